namespace Gpuckpt.Engine.Devices;

/// <summary>Linux errno values the kernel interfaces return, with their names for messages.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12,
        EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, ENOTTY = 25, ENOSPC = 28,
        ERANGE = 34, ENOSYS = 38, EPROTO = 71, EOPNOTSUPP = 95, ENOTCONN = 107, ETIMEDOUT = 110, ECANCELED = 125;

    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", ESRCH => "ESRCH", EINTR => "EINTR", EIO => "EIO", EBADF => "EBADF", ECHILD => "ECHILD",
        EAGAIN => "EAGAIN", ENOMEM => "ENOMEM", EACCES => "EACCES", EFAULT => "EFAULT", EBUSY => "EBUSY",
        EEXIST => "EEXIST", ENODEV => "ENODEV", EINVAL => "EINVAL", ENOTTY => "ENOTTY", ENOSPC => "ENOSPC",
        ERANGE => "ERANGE", ENOSYS => "ENOSYS", EPROTO => "EPROTO", EOPNOTSUPP => "EOPNOTSUPP", ENOTCONN => "ENOTCONN", ETIMEDOUT => "ETIMEDOUT",
        ECANCELED => "ECANCELED", _ => $"errno {errno}",
    };

    /// <summary>Throws <see cref="DriverException"/> unless <paramref name="rc"/> is 0.</summary>
    public static void Check(this int rc, string op, string device, string? bo = null)
    {
        if (rc != 0) throw new DriverException(rc, op, device, bo);
    }
}
