using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Gpuckpt.Host;

/// <summary>An option that takes a size: bytes, or a whole number with K, M, G or T (powers of 1024; KiB, MB... read alike).</summary>
public static class ByteSizeOption
{
    private const string Forms = "bytes, or with K, M, G or T: 64K, 512M, 1G";

    public static Option<ulong?> Create(string name, string description) => new(name)
    {
        Description = $"{description} ({Forms})",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (TryParse(text, out var bytes)) return bytes;
            result.AddError($"{name}: '{text}' is not a size ({Forms})");
            return null;
        },
    };

    public static bool TryParse(string text, out ulong bytes)
    {
        bytes = 0;
        var t = text.Trim();
        var digits = 0;
        while (digits < t.Length && char.IsAsciiDigit(t[digits])) digits++;
        if (digits == 0 || !ulong.TryParse(t.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var number)) return false;
        var shift = t[digits..].ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0 || number > ulong.MaxValue >> shift) return false;
        bytes = number << shift;
        return true;
    }
}
