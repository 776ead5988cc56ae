namespace Gpuckpt.Engine.Uapi;

public static class Sizes
{
    public static unsafe int Of<T>() where T : unmanaged => sizeof(T);
}
