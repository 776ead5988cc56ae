using Hyperion;

namespace Gpuckpt.Actors.Serialization;

/// <summary>
/// The types a Hyperion payload may name: the project's own (a namespace under Gpuckpt in one of the allowed
/// assemblies, or a collection type the compiler emitted there), the primitives and collections they are built from, and generic or array forms made only of those.
/// Anything else (a gadget a forged payload could name) is refused before it is loaded.
/// </summary>
public sealed class AllowListTypeFilter : ITypeFilter
{
    /// <summary>Base runtime types the project's messages and events are made of (names without generic arguments).</summary>
    private static readonly HashSet<string> SystemTypes = new(StringComparer.Ordinal)
    {
        "System.Object", "System.String", "System.Boolean", "System.Char", "System.Byte", "System.SByte",
        "System.Int16", "System.UInt16", "System.Int32", "System.UInt32", "System.Int64", "System.UInt64",
        "System.Single", "System.Double", "System.Decimal", "System.Guid", "System.TimeSpan", "System.DateTime",
        "System.DateTimeOffset", "System.Nullable`1",
        "System.Collections.Generic.List`1", "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.HashSet`1", "System.Collections.Generic.KeyValuePair`2", "System.Collections.DictionaryEntry",
        "System.Collections.Generic.SortedDictionary`2", "System.Collections.ObjectModel.ReadOnlyCollection`1",
        "System.Collections.Generic.GenericEqualityComparer`1", "System.Collections.Generic.NonRandomizedStringEqualityComparer+OrdinalComparer",
        "System.Collections.Generic.NonRandomizedStringEqualityComparer", "System.Collections.Generic.ObjectEqualityComparer`1",
    };

    /// <summary>The assemblies that hold those runtime types, as Hyperion spells them.</summary>
    private static readonly HashSet<string> SystemAssemblies = new(StringComparer.Ordinal)
    {
        "%core%", "mscorlib", "System.Private.CoreLib", "System.Runtime", "System.Collections",
    };

    private readonly HashSet<string> _projectAssemblies;

    public AllowListTypeFilter(IEnumerable<string> projectAssemblies) =>
        _projectAssemblies = new HashSet<string>(projectAssemblies, StringComparer.Ordinal);

    public bool IsAllowed(string typeName) => Allowed(typeName.AsSpan().Trim());

    private bool Allowed(ReadOnlySpan<char> name)
    {
        // "Full.Name`2[[Arg, Asm],[Arg, Asm]][], Assembly, Version=…": the assembly follows the first comma outside brackets.
        var split = TopLevelComma(name);
        if (split < 0) return false;
        var type = name[..split].Trim();
        var assembly = name[(split + 1)..];
        var comma = assembly.IndexOf(',');
        if (comma >= 0) assembly = assembly[..comma];
        assembly = assembly.Trim();

        var bracket = type.IndexOf('[');
        var baseName = bracket < 0 ? type : type[..bracket];
        if (!BaseAllowed(baseName.ToString(), assembly.ToString())) return false;
        if (bracket < 0) return true;

        // What follows the base name: an optional generic argument list [[…],[…]], then array ranks [] or [,].
        var rest = type[bracket..];
        if (rest.StartsWith("[["))
        {
            var close = MatchingBracket(rest, 0);
            if (close < 0) return false;
            if (!ArgumentsAllowed(rest[1..close])) return false;
            rest = rest[(close + 1)..];
        }
        foreach (var c in rest)
            if (c is not ('[' or ']' or ',')) return false;
        return true;
    }

    private bool BaseAllowed(string baseName, string assembly)
    {
        // <>z__ReadOnlyArray`1 and kin: what the compiler emits into the project's assemblies for collection expressions.
        if (_projectAssemblies.Contains(assembly))
            return baseName.StartsWith("Gpuckpt.", StringComparison.Ordinal) || baseName.StartsWith("<>z__ReadOnly", StringComparison.Ordinal);
        // Akka's serializer carries an actor reference as this surrogate (its path), resolved on the receiving system.
        if (assembly == "Akka") return baseName == "Akka.Actor.ActorRefBase+Surrogate";
        return SystemAssemblies.Contains(assembly) && SystemTypes.Contains(baseName);
    }

    /// <summary>"[A, Asm],[B, Asm]": every bracketed argument must itself be allowed.</summary>
    private bool ArgumentsAllowed(ReadOnlySpan<char> list)
    {
        var i = 0;
        while (i < list.Length)
        {
            if (list[i] == ',') { i++; continue; }
            if (list[i] != '[') return false;
            var close = MatchingBracket(list, i);
            if (close < 0 || !Allowed(list[(i + 1)..close])) return false;
            i = close + 1;
        }
        return true;
    }

    private static int TopLevelComma(ReadOnlySpan<char> s)
    {
        var depth = 0;
        for (var i = 0; i < s.Length; i++)
        {
            switch (s[i])
            {
                case '[': depth++; break;
                case ']': depth--; break;
                case ',' when depth == 0: return i;
            }
        }
        return -1;
    }

    private static int MatchingBracket(ReadOnlySpan<char> s, int open)
    {
        var depth = 0;
        for (var i = open; i < s.Length; i++)
        {
            if (s[i] == '[') depth++;
            else if (s[i] == ']' && --depth == 0) return i;
        }
        return -1;
    }
}
