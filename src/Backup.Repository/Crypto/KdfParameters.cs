namespace Backup.Repository.Crypto;

/// <summary>Argon2id cost parameters for a key file (format §3).</summary>
/// <param name="MemoryKiB">Memory in KiB (default 64 MiB).</param>
/// <param name="Iterations">Passes over memory.</param>
/// <param name="Parallelism">Lanes.</param>
public sealed record KdfParameters(int MemoryKiB, int Iterations, int Parallelism)
{
    /// <summary>The defaults for new repositories: 64 MiB, 3 passes, 2 lanes.</summary>
    public static KdfParameters Default { get; } = new(64 * 1024, 3, 2);

    /// <summary>Throws when a parameter is outside what Argon2 allows or what this client accepts from a key file.</summary>
    public void Validate(string objectKey)
    {
        if (MemoryKiB < 8 * Parallelism || MemoryKiB > 4 * 1024 * 1024 || Iterations < 1 || Iterations > 64 || Parallelism < 1 || Parallelism > 64)
        {
            throw new ArgumentException($"'{objectKey}': Argon2id parameters memory={MemoryKiB} KiB, iterations={Iterations}, parallelism={Parallelism} are out of range");
        }
    }
}
