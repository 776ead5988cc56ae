using Gpuckpt.Load.Commands;

return await LoadCli.InvokeAsync(args);
