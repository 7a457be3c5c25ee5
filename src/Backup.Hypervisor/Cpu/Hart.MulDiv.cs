namespace Backup.Hypervisor.Cpu;

/// <summary>The M extension's multiply and divide (shared with translated code, which calls these helpers).</summary>
public sealed unsafe partial class Hart
{
    internal static ulong MulDiv(uint f3, ulong a, ulong b)
    {
        switch (f3)
        {
            case 0: return a * b;
            case 1: return (ulong)Math.BigMul((long)a, (long)b, out _);
            case 2:
            {
                // MULHSU: signed a times unsigned b
                ulong high = Math.BigMul(a, b, out _);
                return (long)a < 0 ? high - b : high;
            }

            case 3: return Math.BigMul(a, b, out _);
            case 4: // DIV
                if (b == 0)
                {
                    return ulong.MaxValue;
                }

                if ((long)a == long.MinValue && (long)b == -1)
                {
                    return a;
                }

                return (ulong)((long)a / (long)b);
            case 5: return b == 0 ? ulong.MaxValue : a / b;
            case 6: // REM
                if (b == 0)
                {
                    return a;
                }

                if ((long)a == long.MinValue && (long)b == -1)
                {
                    return 0;
                }

                return (ulong)((long)a % (long)b);
            default: return b == 0 ? a : a % b;
        }
    }

    internal static ulong MulDivWord(uint f3, uint a, uint b)
    {
        int result;
        switch (f3)
        {
            case 0: result = (int)(a * b); break;
            case 4:
                result = b == 0 ? -1 : ((int)a == int.MinValue && (int)b == -1) ? int.MinValue : (int)a / (int)b;
                break;
            case 5: result = b == 0 ? -1 : (int)(a / b); break;
            case 6:
                result = b == 0 ? (int)a : ((int)a == int.MinValue && (int)b == -1) ? 0 : (int)a % (int)b;
                break;
            default: result = b == 0 ? (int)a : (int)(a % b); break;
        }

        return (ulong)(long)result;
    }
}
