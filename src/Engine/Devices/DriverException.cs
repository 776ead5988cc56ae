namespace Gpuckpt.Engine.Devices;

/// <summary>A failed driver call: the errno, the op, the device and (when one is involved) the BO.</summary>
public sealed class DriverException : Exception
{
    public DriverException(int errno, string op, string device, string? bo = null, string? detail = null)
        : base(Describe(errno, op, device, bo, detail))
    {
        ErrorNumber = errno;
        Op = op;
        Device = device;
        Bo = bo;
    }

    public int ErrorNumber { get; }
    public string Op { get; }
    public string Device { get; }
    public string? Bo { get; }

    private static string Describe(int errno, string op, string device, string? bo, string? detail) =>
        $"{op} on {device}{(bo is null ? "" : $" ({bo})")} failed: {Errno.Name(errno)}{(detail is null ? "" : $": {detail}")}";
}
