namespace Gpuckpt.Engine.Checkpoint;

/// <summary>The ids in an image's file names: the KFD file is 1, render node i (in minor order) is 2 + i, import i's dmabuf 1000 + i.</summary>
public static class ImageIds
{
    public const int Kfd = 1;

    public static int RenderNode(int index) => 2 + index;

    /// <summary>Import i's dmabuf file: above every render node id.</summary>
    public static int Dmabuf(int index) => 1000 + index;
}
