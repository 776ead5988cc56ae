using Gpuckpt.Host;
using Gpuckpt.Host.Commands;

TestHookLoader.LoadIfPresent();

var root = new System.CommandLine.RootCommand("gpuckpt: checkpoint and restore the GPU state of processes")
{
    SimulatorCommand.Create(),
    SpawnCommand.Create(),
    RunCommand.Create(),
    StateCommand.Create(),
    CheckpointCommand.Create(),
    RestoreCommand.Create(),
    InspectCommand.Create(),
    VerifyCommand.Create(),
    AbiCommand.Create(),
    DoctorCommand.Create(),
    JobsCommand.Create(),
    ResumeCommand.Create(),
    UnpauseCommand.Create(),
    AbortCommand.Create(),
    ForgetCommand.Create(),
    DemoCommand.Create(),
    NodeCommand.Create(),
    ServeCommand.Create(),
    ClusterCommand.Create(),
    MigrateCommand.Create(),
};
return await Cli.InvokeAsync(root, args);
