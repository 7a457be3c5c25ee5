using System.Text;

namespace Backup.Hypervisor.Tests.Support;

/// <summary>Collects a VM's console output and lets a test wait for a piece of text.</summary>
public sealed class ConsoleCapture
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public void Write(byte b)
    {
        lock (_lock)
        {
            _text.Append((char)b);
        }
    }

    public string Text
    {
        get
        {
            lock (_lock)
            {
                return _text.ToString();
            }
        }
    }

    public bool Contains(string s) => Text.Contains(s, StringComparison.Ordinal);
}
