namespace Gpuckpt.Engine.Checkpoint;

/// <summary>The ids in an image's file names: the KFD file is 1, render file i (in minor and file order) is 2 + i.</summary>
public static class ImageIds
{
    public const int Kfd = 1;

    public static int RenderNode(int index) => 2 + index;
}
