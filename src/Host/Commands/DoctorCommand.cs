using System.CommandLine;
using Gpuckpt.Actors;
using Gpuckpt.Engine.Devices.Linux;

namespace Gpuckpt.Host.Commands;

/// <summary>`gpuckpt doctor [--json]`: what this machine offers each backend, and how to get what is missing.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var json = Cli.JsonOption();
        var command = new Command("doctor", "check what this machine offers the kfd and simulator backends, and CRIU for whole processes") { json };
        command.SetAction(parse => Cli.Guard(() =>
        {
            var report = KfdDoctor.Examine(new KfdDriverPaths());
            var criu = CriuDoctor.Examine(EngineConfig.Load().GetTimeSpan("gpuckpt.criu.doctor-timeout"));
            var bridge = Engine.Bridge.CriuInstall.BridgeCheck();
            if (parse.GetValue(json))
            {
                Cli.PrintJson(new
                {
                    backends = new
                    {
                        kfd = new { usable = report.KfdUsable, missing = report.Missing.Select(c => c.Name) },
                        sim = new { usable = report.SimulatorUsable, how = "gpuckpt simulator --socket PATH, then --driver sim:PATH" },
                        criu = new { usable = criu.Usable, missing = criu.Missing.Select(c => c.Name) },
                    },
                    checks = report.Checks.Concat(criu.Checks).Append(bridge).Select(c => new { name = c.Name, ok = c.Ok, detail = c.Detail, fix = c.Fix }),
                    ioctls = (report.Ioctls ?? []).Select(i => new { name = i.Name, state = i.State, since = i.Since, needed_for = i.NeededFor, detail = i.Detail }),
                    criu = new
                    {
                        path = criu.Path, version = criu.Version?.ToString(), hooks = criu.HooksCalled, missing_hooks = criu.HooksMissing,
                        check = new { ok = criu.CheckOk, verdict = criu.CheckVerdict }, install = CriuReport.InstallCommand,
                    },
                });
                return Cli.ExitOk;
            }
            foreach (var c in report.Checks.Concat(criu.Checks).Append(bridge))
            {
                Console.Out.WriteLine($"{(c.Ok ? "ok" : "MISSING"),-8} {c.Name,-13} {c.Detail}");
                if (c.Fix is not null) Console.Out.WriteLine($"{"",-8} {"",-13} fix: {c.Fix}");
            }
            Console.Out.WriteLine(report.KfdUsable
                ? "kfd backend: usable (checkpoint --driver kfd; restore runs inside the restored process, see the CRIU bridge)"
                : $"kfd backend: not usable here ({string.Join(", ", report.Missing.Select(c => c.Name))} missing)");
            Console.Out.WriteLine("sim backend: usable (gpuckpt simulator --socket PATH, then --driver sim:PATH)");
            Console.Out.WriteLine(criu.Usable
                ? $"criu: usable ({criu.Path}, {criu.Version})"
                : $"criu: not usable here ({string.Join(", ", criu.Missing.Select(c => c.Name))}); install: {CriuReport.InstallCommand}");
            return Cli.ExitOk;
        }));
        return command;
    }
}
