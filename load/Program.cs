using Gpuckpt.Load;

return args.FirstOrDefault() switch
{
    "bench" => await Bench.Run(Arguments.Parse(args.Skip(1))),
    "jobs" => await JobsLoad.Run(Arguments.Parse(args.Skip(1))),
    "migrate" => await MigrateLoad.Run(Arguments.Parse(args.Skip(1))),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: gpuckpt-load bench [--size BYTES] [--runs N] | jobs [--jobs N] [--concurrency C] [--size BYTES] | migrate [--size BYTES]");
    return 2;
}
