namespace Gpuckpt.Emulator;

/// <summary>The emulated kernel's programs, built by gcc with this assembly and shipped beside it in emulator/.</summary>
public static class EmulatorPrograms
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "emulator");

    /// <summary>kfdemu: the mount namespace with the emulated devices, the stand-ins and the seccomp filter.</summary>
    public static string Kfdemu => Require("kfdemu");

    /// <summary>taskhost: starts and reaps the processes CRIU dumps and restores.</summary>
    public static string TaskHost => Require("taskhost");

    /// <summary>Whether both programs were built (gcc was there when gpuckpt was built).</summary>
    public static bool Built => File.Exists(Path.Combine(Dir, "kfdemu")) && File.Exists(Path.Combine(Dir, "taskhost"));

    private static string Require(string name)
    {
        var path = Path.Combine(Dir, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built: install gcc and rebuild gpuckpt (the emulated kernel's programs are compiled with it)", path);
    }
}
