namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// An event whose loss costs only work done again: a chunk landed. The embedded journal commits a write of nothing but
/// such events without waiting for the disk, and the next write that has to be durable makes them durable too. A killed
/// engine loses none of them (the journal's file is in the page cache). A machine that goes down may lose the last ones:
/// a checkpoint then copies those chunks again (it adopts a chunk only if the page file still holds bytes of its
/// checksum), and a restore's process went down with the machine. A job that journals its progress every few hundred
/// milliseconds would otherwise flush the disk's cache as often, while the copy's own writes stream to it.
/// </summary>
public interface IProgressEvent;
