using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Backup.TestSupport;

/// <summary>
/// Assembles RISC-V test programs at test time with the installed GNU cross toolchain
/// (riscv64-linux-gnu-as/ld/objcopy) into a flat binary linked at 0x80000000. Outputs are cached in a temp
/// folder keyed by a hash of the source and options, so only changed programs cost process spawns.
/// </summary>
public static class RiscvAssembler
{
    public const ulong LinkAddress = 0x8000_0000;

    private const string MarchWithC = "rv64imafdc_zicsr_zifencei";
    private const string MarchWithoutC = "rv64imafd_zicsr_zifencei";

    // Bump when the way programs are built changes, to invalidate cached binaries.
    private const string CacheVersion = "4";

    private static readonly string CacheDirectory = Path.Combine(Path.GetTempPath(), "backup-hv-cputests-asm");

    /// <summary>Assembles <paramref name="source"/> (a complete program) into a flat binary.</summary>
    public static byte[] Assemble(string source, bool compressed = true) => File.ReadAllBytes(Build(source, compressed, ".bin"));

    /// <summary>Assembles and links <paramref name="source"/> into an ELF executable; returns its (cached) path.</summary>
    public static string AssembleElf(string source, bool compressed = true) => Build(source, compressed, ".elf");

    private static string Build(string source, bool compressed, string extension)
    {
        string march = compressed ? MarchWithC : MarchWithoutC;
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{CacheVersion}\n{march}\n{source}")));
        Directory.CreateDirectory(CacheDirectory);
        string cached = Path.Combine(CacheDirectory, key + extension);
        if (File.Exists(cached))
        {
            return cached;
        }

        string work = Path.Combine(CacheDirectory, key + "." + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string asm = Path.Combine(work, "prog.s");
            string obj = Path.Combine(work, "prog.o");
            string elf = Path.Combine(work, "prog.elf");
            string bin = Path.Combine(work, "prog.bin");
            File.WriteAllText(asm, source);
            Tool("riscv64-linux-gnu-as", $"-march={march}", "-mabi=lp64", "-o", obj, asm);
            Tool("riscv64-linux-gnu-ld", $"-Ttext=0x{LinkAddress:x}", "-nostdlib", "-n", "--no-relax", "-e", "_start", "-o", elf, obj);
            Tool("riscv64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", elf, bin);
            string temp = cached + "." + Guid.NewGuid().ToString("N");
            File.Copy(extension == ".elf" ? elf : bin, temp);
            File.Move(temp, cached, overwrite: true);
            return cached;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp folder is harmless.
            }
        }
    }

    private static void Tool(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            string asm = arguments.Length > 0 && arguments[^1].EndsWith(".s", StringComparison.Ordinal) ? File.ReadAllText(arguments[^1]) : "";
            throw new InvalidOperationException($"{fileName} failed ({process.ExitCode}):\n{stderr}{stdout.Result}\n--- source ---\n{Numbered(asm)}");
        }
    }

    private static string Numbered(string text)
    {
        var sb = new StringBuilder();
        int n = 1;
        foreach (string line in text.Split('\n'))
        {
            sb.Append(n++).Append(": ").AppendLine(line);
        }

        return sb.ToString();
    }
}
