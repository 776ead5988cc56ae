using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Simulation.Memory;

namespace Gpuckpt.Engine.Simulation.Model;

/// <summary>An open render node as an fd points to it.</summary>
internal sealed record RenderFd(uint Pid, uint Minor);

/// <summary>
/// The fds one client connection holds, numbered like a process's fd table: dmabuf fds (keeping their buffer
/// alive) and render-node fds. Mutated only under the driver's lock.
/// </summary>
internal sealed class FdTable
{
    private readonly Dictionary<int, object> _fds = new();

    public int AddDmabuf(SimBuffer buffer) => Add(buffer.AddRef());

    public int AddRender(uint pid, uint minor) => Add(new RenderFd(pid, minor));

    private int Add(object target)
    {
        // Lowest free number from 3 up, as open(2) gives them.
        var fd = 3;
        while (_fds.ContainsKey(fd)) fd++;
        _fds[fd] = target;
        return fd;
    }

    public SimBuffer Dmabuf(int fd) =>
        _fds.TryGetValue(fd, out var t) && t is SimBuffer b ? b : throw new SimError(Errno.EBADF, $"fd {fd} is not an open dmabuf");

    public RenderFd Render(int fd) =>
        _fds.TryGetValue(fd, out var t) && t is RenderFd r ? r : throw new SimError(Errno.EBADF, $"fd {fd} is not an open render node");

    public void Close(int fd)
    {
        if (!_fds.Remove(fd, out var t)) throw new SimError(Errno.EBADF, $"fd {fd} is not open");
        (t as SimBuffer)?.Release();
    }

    public void CloseAll()
    {
        foreach (var fd in _fds.Keys.ToList()) Close(fd);
    }
}
