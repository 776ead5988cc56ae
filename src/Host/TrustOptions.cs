using System.CommandLine;
using Akka.Configuration;
using Gpuckpt.Actors;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Host;

/// <summary>
/// Whose signature an image must carry: by default this engine's key (image.key in the state directory); an image made
/// elsewhere needs a visible choice, <c>--trust-key FILE</c> (the key it was signed with) or <c>--allow-unsigned</c>.
/// </summary>
public sealed class TrustOptions
{
    /// <summary>The line a refused signature adds: what the user can do about it.</summary>
    public const string Advice = "an image signed elsewhere is accepted with --trust-key FILE (the key it was signed with); --allow-unsigned skips the signature check";

    public Option<string?> TrustKey { get; } = new("--trust-key", "--key")
    {
        Description = "the image must be signed with this key file (64 hex digits, mode 0600) instead of this engine's own",
    };

    public Option<bool> AllowUnsigned { get; } = new("--allow-unsigned")
    {
        Description = "accept an image whatever signed it, or nothing did (its checksums are still checked)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(TrustKey);
        command.Options.Add(AllowUnsigned);
    }

    /// <summary>Whether the user chose a trust other than this engine's own key.</summary>
    public bool Given(ParseResult parse) => parse.GetValue(TrustKey) is not null || parse.GetValue(AllowUnsigned);

    /// <summary><paramref name="config"/> with the user's choice applied (the key file is checked before anything runs).</summary>
    public Config Apply(ParseResult parse, Config config)
    {
        var key = parse.GetValue(TrustKey);
        var unsigned = parse.GetValue(AllowUnsigned);
        if (key is not null && unsigned) throw new UsageException("--trust-key and --allow-unsigned exclude each other");
        if (unsigned) return ConfigurationFactory.ParseString("gpuckpt.images { sign = off, require-signature = off }").WithFallback(config);
        if (key is null) return config;
        var path = Path.GetFullPath(key);
        ImageKey.Load(path);
        return ConfigurationFactory.ParseString($"gpuckpt.images {{ sign = off, require-signature = on, key-file = {HoconString.Quote(path)} }}").WithFallback(config);
    }

    /// <summary><see cref="Advice"/> when <paramref name="reason"/> is a refused signature, else null.</summary>
    public static string? AdviceOn(string? reason) =>
        reason is not null && (reason.Contains("signed", StringComparison.Ordinal) || reason.Contains("signature", StringComparison.Ordinal)) ? Advice : null;

    /// <summary>Prints <see cref="Advice"/> when <paramref name="reason"/> is a refused signature.</summary>
    public static void AdviseOn(string? reason)
    {
        if (AdviceOn(reason) is { } advice) Console.Error.WriteLine($"gpuckpt: {advice}");
    }
}
