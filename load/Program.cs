using Gpuckpt.Load;

return args.FirstOrDefault() switch
{
    "bench" => await Bench.Run(Arguments.Parse(args.Skip(1))),
    "jobs" => await JobsLoad.Run(Arguments.Parse(args.Skip(1))),
    "migrate" => await MigrateLoad.Run(Arguments.Parse(args.Skip(1))),
    "cli" => await CliBench.Run(Arguments.Parse(args.Skip(1))),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: gpuckpt-load bench [--size BYTES] [--runs N] | jobs [--jobs N] [--concurrency C] [--size BYTES]\n" +
                            "       gpuckpt-load cli [--workload train|many-bos] [--size BYTES] [--bos N] [--spec FILE] [--runs N] [--gpuckpt PATH/gpuckpt.dll]\n" +
                            "       gpuckpt-load migrate [--size BYTES] [--gpuckpt PATH]");
    return 2;
}
