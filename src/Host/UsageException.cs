using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Host;

/// <summary>Bad command-line input: exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
