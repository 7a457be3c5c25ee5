using Backup.Hypervisor.Machine;
using Backup.Hypervisor.Tests.Support;

namespace Backup.Hypervisor.Tests.Devices;

/// <summary>
/// Runs a VM on its own thread the way a user at the console drives it: wait for a prompt, type, wait for the end.
/// Every wait is bounded; a VM still running at the end is stopped.
/// </summary>
public sealed class ConsoleInputSession : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public ConsoleInputSession(VmConfiguration config)
    {
        Vm = new VirtualMachine(config, Console.Write);
        Vm.Start();
    }

    public VirtualMachine Vm { get; }

    public ConsoleCapture Console { get; } = new();

    /// <summary>Waits until the console shows <paramref name="text"/>; fails the test (with the console so far) if it never does.</summary>
    public void WaitFor(string text)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!Console.Contains(text))
        {
            if (Vm.WaitForExit(TimeSpan.FromMilliseconds(10), out var exit))
            {
                Assert.Fail($"the VM stopped ({exit}) before printing '{text}'\n--- console ---\n{Console.Text}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"'{text}' did not appear within {Timeout.TotalSeconds} s\n--- console ---\n{Console.Text}");
            }
        }
    }

    public void Type(string text) => Vm.SendConsoleInput(System.Text.Encoding.ASCII.GetBytes(text));

    /// <summary>Waits for the VM to stop by itself; fails the test if it does not within the timeout.</summary>
    public VmExit WaitForExit()
    {
        if (!Vm.WaitForExit(Timeout, out var exit))
        {
            Vm.RequestStop("test timeout");
            Assert.Fail($"the VM did not stop within {Timeout.TotalSeconds} s\n--- console ---\n{Console.Text}");
        }

        return exit!;
    }

    public void Dispose() => Vm.Dispose();
}
