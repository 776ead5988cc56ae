using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Akka.Actor;
using Gpuckpt.Actors.Cluster;

namespace Gpuckpt.Actors.Migration;

/// <summary>A data link could not connect (<paramref name="Connected"/> false) or broke after it had.</summary>
public sealed record LinkFailed(FrameLink Link, bool Connected, string Reason) : INoSerializationVerificationNeeded;
