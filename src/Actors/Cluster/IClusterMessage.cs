using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Actors.Cluster;

/// <summary>What the CLI and the nodes ask each other about the cluster.</summary>
public interface IClusterMessage;
