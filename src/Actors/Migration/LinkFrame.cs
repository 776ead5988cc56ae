using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Gpuckpt.Actors.Cluster;
using Gpuckpt.Engine.Transfer;

namespace Gpuckpt.Actors.Migration;

/// <summary>A frame that came over a data link, in an array of <see cref="FramePool.Shared"/>: its target returns it once written.</summary>
public sealed record LinkFrame(byte[] Bytes) : INoSerializationVerificationNeeded;
