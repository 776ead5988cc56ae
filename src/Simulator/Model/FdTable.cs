using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Model;

/// <summary>An open render file as an fd points to it: process, node, and which of the process's files of that node.</summary>
internal sealed record RenderFd(uint Pid, uint Minor, int Index);

/// <summary>
/// The fds one client connection holds, numbered like a process's fd table: dmabuf fds (keeping their buffer
/// alive) and render-node fds. Mutated only under the driver's lock.
/// </summary>
internal sealed class FdTable
{
    private readonly Dictionary<int, object> _fds = new();
    // Numbers below _next that are free again: the lowest is the next one handed out, as open(2) does, without a scan.
    private readonly SortedSet<int> _free = [];
    private int _next = 3;

    public int AddDmabuf(SimBuffer buffer) => Add(buffer.AddRef());

    public int AddRender(uint pid, uint minor, int index) => Add(new RenderFd(pid, minor, index));

    private int Add(object target)
    {
        // Lowest free number from 3 up, as open(2) gives them.
        int fd;
        if (_free.Count > 0)
        {
            fd = _free.Min;
            _free.Remove(fd);
        }
        else fd = _next++;
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
        _free.Add(fd);
        (t as SimBuffer)?.Release();
    }

    public void CloseAll()
    {
        foreach (var fd in _fds.Keys.ToList()) Close(fd);
    }
}
