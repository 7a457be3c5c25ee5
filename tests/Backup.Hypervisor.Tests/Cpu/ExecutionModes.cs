using System.Reflection;
using Backup.Hypervisor.Translation;

namespace Backup.Hypervisor.Tests.Cpu;

/// <summary>
/// Theory data that runs each CPU test in both execution modes: the interpreter, and the translated tier with every
/// block compiled on first sight (so the test's code really runs compiled).
/// </summary>
public static class ExecutionModes
{
    public static TheoryData<ExecutionMode> Both => new() { ExecutionMode.Interpreter, ExecutionMode.Translated };

    /// <summary>The rows of <paramref name="type"/>'s static member <paramref name="member"/>, each once per mode (the mode last).</summary>
    public static IEnumerable<object[]> Cross(Type type, string member)
    {
        ArgumentNullException.ThrowIfNull(type);
        const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static;
        object? source = type.GetProperty(member, flags)?.GetValue(null) ?? type.GetMethod(member, flags, Type.EmptyTypes)?.Invoke(null, null);
        if (source is not IEnumerable<object[]> rows)
        {
            throw new ArgumentException($"{type.Name}.{member} is not a static member returning theory rows", nameof(member));
        }

        foreach (object[] row in rows.ToList())
        {
            yield return [.. row, ExecutionMode.Interpreter];
            yield return [.. row, ExecutionMode.Translated];
        }
    }
}
