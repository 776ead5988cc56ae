namespace Gpuckpt.Actors.Persistence;

/// <summary>
/// An event whose loss costs only work done again: a chunk landed. A restarted job that finds it checks what it names
/// before it relies on it (a checkpoint adopts a chunk only if the page file still holds bytes of its checksum), and one
/// that lacks it copies the chunk again. The embedded journal commits a write of nothing but such events without waiting
/// for the disk: a killed engine loses none of them (they are in the file), a machine that goes down may lose the last
/// ones, and the next write that has to be durable makes them durable too. A job that journals its progress every few
/// hundred milliseconds would otherwise flush the disk's cache as often, while the copy's own writes stream to it.
/// </summary>
public interface IProgressEvent;
