namespace Gpuckpt.Engine.Bridge;

/// <summary>One message on the bridge socket: its payload and the fds that came with it (the receiver owns and closes them).</summary>
public sealed record BridgeMessage(BridgeMessageType Type, byte[] Payload, int[] Fds);
