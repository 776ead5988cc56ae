namespace Gpuckpt.Host;

/// <summary>
/// One line on a terminal saying what the CLI is doing while nothing else shows (starting an engine, connecting to a
/// node), overwritten in place and cleared when the progress bars, the result or an error come. Nothing off a terminal.
/// </summary>
public static class StatusLine
{
    private static readonly object Gate = new();
    private static bool _shown;

    /// <summary>Shows <paramref name="text"/> in place of the previous status, when <paramref name="interactive"/>.</summary>
    public static void Say(bool interactive, string text)
    {
        if (!interactive) return;
        lock (Gate)
        {
            Console.Out.Write($"\r\x1b[2K{text}");
            Console.Out.Flush();
            _shown = true;
        }
    }

    /// <summary>Removes the status, so that what comes next starts on a clean line.</summary>
    public static void Clear()
    {
        lock (Gate)
        {
            if (!_shown) return;
            Console.Out.Write("\r\x1b[2K");
            Console.Out.Flush();
            _shown = false;
        }
    }
}
