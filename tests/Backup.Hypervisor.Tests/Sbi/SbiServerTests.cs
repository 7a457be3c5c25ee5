using Backup.Hypervisor.Cpu;
using Backup.Hypervisor.Sbi;

namespace Backup.Hypervisor.Tests.Sbi;

/// <summary>
/// The host-served SBI against the RISC-V SBI specification (v1.0 and later, riscv-non-isa/riscv-sbi-doc), one call at
/// a time on a four-hart machine. Extension ids, function ids and error codes are the specification's numbers,
/// written out here rather than taken from the implementation, so a wrong constant there fails a test.
/// </summary>
public sealed class SbiServerTests : IDisposable
{
    // Binary encoding, "Standard SBI Errors".
    private const long Success = 0;
    private const long ErrNotSupported = -2;
    private const long ErrInvalidParam = -3;
    private const long ErrAlreadyAvailable = -6;

    // Extension ids.
    private const long Base = 0x10;
    private const long Time = 0x54494D45;     // "TIME"
    private const long Ipi = 0x735049;        // "sPI"
    private const long Rfence = 0x52464E43;   // "RFNC"
    private const long Hsm = 0x48534D;        // "HSM"
    private const long Srst = 0x53525354;     // "SRST"

    // HSM hart states ("HSM Hart States" table).
    private const ulong Started = 0, Stopped = 1;

    private const ulong AllHarts = ulong.MaxValue; // hart_mask_base = -1: hart_mask is ignored, every hart is meant
    private const int Sip = 0x144, Satp = 0x180, Sstatus = 0x100;
    private const ulong SstatusSie = 1 << 1;

    private readonly SbiTestMachine _m = new(hartCount: 4);

    public void Dispose() => _m.Dispose();

    private bool SoftwareInterruptPending(int hart) => (_m.ReadCsr(hart, Sip) & InterruptBits.SSIP) != 0;

    private bool TimerInterruptPending(int hart) => (_m.ReadCsr(hart, Sip) & InterruptBits.STIP) != 0;

    // ---------------------------------------------------------------- BASE

    [Fact]
    public void Base_get_spec_version_is_1_0_with_bit_31_and_the_upper_word_zero()
    {
        var (error, value) = _m.Call(0, Base, 0);
        Assert.Equal(Success, error);
        Assert.Equal(1UL, (value >> 24) & 0x7F); // major in bits 24..30
        Assert.Equal(0UL, value & 0xFF_FFFF);    // minor in bits 0..23
        Assert.Equal(0UL, value >> 31);          // bit 31 and bits 32+ reserved, must be 0
    }

    [Fact]
    public void Base_reports_the_implementation_id_and_version()
    {
        var (error, id) = _m.Call(0, Base, 1);
        Assert.Equal(Success, error);
        Assert.Equal((ulong)SbiServer.ImplementationId, id);
        Assert.InRange(id, 12UL, ulong.MaxValue); // not one of the registered ids 0-11 (BBL, OpenSBI, ..., bhyve)

        (error, ulong version) = _m.Call(0, Base, 2);
        Assert.Equal(Success, error);
        Assert.Equal(1UL, version);
    }

    [Theory]
    [InlineData(0x10L)]        // BASE
    [InlineData(0x54494D45L)]  // TIME
    [InlineData(0x735049L)]    // IPI
    [InlineData(0x52464E43L)]  // RFENCE
    [InlineData(0x48534DL)]    // HSM
    [InlineData(0x53525354L)]  // SRST
    [InlineData(0x00L)]        // legacy set_timer
    [InlineData(0x01L)]        // legacy console_putchar
    [InlineData(0x02L)]        // legacy console_getchar
    [InlineData(0x08L)]        // legacy shutdown
    public void Base_probe_extension_returns_1_for_every_served_extension(long extension)
    {
        var (error, value) = _m.Call(0, Base, 3, (ulong)extension);
        Assert.Equal(Success, error);
        Assert.Equal(1UL, value);
    }

    [Theory]
    [InlineData(0x4442434EL)]  // DBCN (debug console): not served
    [InlineData(0x504D55L)]    // PMU
    [InlineData(0x53555350L)]  // SUSP
    [InlineData(0x03L)]        // legacy clear_ipi
    [InlineData(0x04L)]        // legacy send_ipi
    [InlineData(0x07L)]        // legacy remote_sfence_vma_asid
    [InlineData(0x12345678L)]  // nothing at all
    [InlineData(-1L)]
    public void Base_probe_extension_returns_0_for_an_extension_that_is_not_available(long extension)
    {
        var (error, value) = _m.Call(0, Base, 3, unchecked((ulong)extension));
        Assert.Equal(Success, error);
        Assert.Equal(0UL, value);
    }

    [Fact]
    public void Base_machine_ids_are_the_values_of_the_harts_own_mvendorid_marchid_mimpid()
    {
        // "Return a value that is legal for the mvendorid CSR": the value the hart itself reports is legal.
        int[] csrs = [0xF11, 0xF12, 0xF13];
        for (int fid = 4; fid <= 6; fid++)
        {
            var (error, value) = _m.Call(0, Base, fid);
            Assert.Equal(Success, error);
            Assert.Equal(_m.ReadCsr(0, csrs[fid - 4]), value);
        }
    }

    [Fact]
    public void Base_unknown_function_is_not_supported()
    {
        Assert.Equal(ErrNotSupported, _m.Call(0, Base, 7).Error);
        Assert.Equal(ErrNotSupported, _m.Call(0, Base, -1).Error);
    }

    [Fact]
    public void A_call_preserves_every_register_but_a0_and_a1()
    {
        // Binary encoding: "All registers except a0 & a1 must be preserved across an SBI call by the callee."
        var hart = _m.Harts[0];
        for (int r = 1; r < 32; r++)
        {
            hart.SetRegister(r, 0x1000UL + (ulong)r);
        }

        hart.SetRegister(16, 0);
        hart.SetRegister(17, (ulong)Base);
        _m.Server.HandleSupervisorCall(hart);
        for (int r = 1; r < 32; r++)
        {
            if (r is not (10 or 11))
            {
                Assert.Equal(r == 16 ? 0UL : r == 17 ? (ulong)Base : 0x1000UL + (ulong)r, hart.GetRegister(r));
            }
        }
    }

    // ---------------------------------------------------------------- TIME

    [Fact]
    public void Time_set_timer_in_the_past_raises_the_timer_interrupt_and_a_future_one_clears_it()
    {
        _m.Clock.SkipTo(1000);
        Assert.False(TimerInterruptPending(1));

        Assert.Equal(Success, _m.Call(1, Time, 0, 500).Error); // already due
        Assert.Equal(500UL, _m.Harts[1].TimerCompare);
        Assert.True(TimerInterruptPending(1));
        Assert.False(TimerInterruptPending(0)); // per hart

        // "This function must clear the pending timer interrupt bit when stime_value is set to some time in the
        // future, regardless of whether timer interrupts are masked or not" (sie.STIE is 0 here).
        Assert.Equal(Success, _m.Call(1, Time, 0, 5000).Error);
        Assert.False(TimerInterruptPending(1));

        _m.Clock.SkipTo(5000);
        _m.Harts[1].UpdateTimer(_m.Clock.Now);
        Assert.True(TimerInterruptPending(1));

        // (uint64_t)-1: "infinitely far into the future", the way to clear it without a next event.
        Assert.Equal(Success, _m.Call(1, Time, 0, ulong.MaxValue).Error);
        Assert.False(TimerInterruptPending(1));
        _m.Clock.SkipTo(1UL << 50);
        _m.Harts[1].UpdateTimer(_m.Clock.Now);
        Assert.False(TimerInterruptPending(1));
    }

    [Fact]
    public void Time_unknown_function_is_not_supported()
    {
        Assert.Equal(ErrNotSupported, _m.Call(0, Time, 1, 0).Error);
        Assert.Equal(ulong.MaxValue, _m.Harts[0].TimerCompare); // untouched
    }

    [Fact]
    public void Legacy_set_timer_arms_the_timer_clears_stip_returns_0_in_a0_and_leaves_a1()
    {
        _m.Clock.SkipTo(100);
        var (a0, a1) = _m.Call(0, 0x00, 0, 50, 0x5A5A);
        Assert.Equal(0L, a0);
        Assert.Equal(0x5A5AUL, a1); // legacy calls return nothing in a1
        Assert.True(TimerInterruptPending(0));

        _m.Call(0, 0x00, 0, 200);
        Assert.False(TimerInterruptPending(0)); // "This function also clears the pending timer interrupt bit."
        Assert.Equal(200UL, _m.Harts[0].TimerCompare);
    }

    // ---------------------------------------------------------------- IPI

    [Fact]
    public void Ipi_send_ipi_raises_ssip_on_exactly_the_harts_in_the_mask()
    {
        Assert.Equal(Success, _m.Call(0, Ipi, 0, 0b101, 0).Error);
        Assert.Equal(new[] { true, false, true, false }, Enumerable.Range(0, 4).Select(SoftwareInterruptPending).ToArray());
    }

    [Fact]
    public void Ipi_hart_mask_bits_count_from_hart_mask_base()
    {
        Assert.Equal(Success, _m.Call(0, Ipi, 0, 0b10, 2).Error); // bit 1 from base 2: hart 3
        Assert.Equal(new[] { false, false, false, true }, Enumerable.Range(0, 4).Select(SoftwareInterruptPending).ToArray());
    }

    [Fact]
    public void Ipi_hart_mask_base_minus_1_ignores_the_mask_and_signals_every_hart()
    {
        Assert.Equal(Success, _m.Call(0, Ipi, 0, 0, AllHarts).Error);
        Assert.All(Enumerable.Range(0, 4), h => Assert.True(SoftwareInterruptPending(h)));
    }

    [Theory]
    [InlineData(0b1UL, 4UL)]                           // base is past the last hart
    [InlineData(0UL, 4UL)]                             // "Either hart_mask_base, or at least one hartid ... is not valid"
    [InlineData(0b10000UL, 0UL)]                       // bit 4: hart 4 does not exist
    [InlineData(0b11UL, 3UL)]                          // hart 3 exists, hart 4 does not: nothing is sent
    [InlineData(0b1000UL, ulong.MaxValue - 1)]         // base -2 + bit 3 must not wrap around to hart 1
    [InlineData(1UL << 63, 1UL)]
    public void Ipi_a_mask_naming_a_hart_that_does_not_exist_is_invalid_param_and_signals_nobody(ulong mask, ulong maskBase)
    {
        Assert.Equal(ErrInvalidParam, _m.Call(0, Ipi, 0, mask, maskBase).Error);
        Assert.All(Enumerable.Range(0, 4), h => Assert.False(SoftwareInterruptPending(h)));
    }

    [Fact]
    public void Ipi_wakes_a_hart_waiting_in_wfi()
    {
        _m.Harts[2].State = HartState.WaitingForInterrupt;
        _m.Harts[3].State = HartState.WaitingForInterrupt;
        Assert.Equal(Success, _m.Call(0, Ipi, 0, 0b100, 0).Error);
        Assert.Equal(HartState.Running, _m.Harts[2].State);
        Assert.Equal(HartState.WaitingForInterrupt, _m.Harts[3].State);
    }

    [Fact]
    public void Ipi_unknown_function_is_not_supported()
    {
        Assert.Equal(ErrNotSupported, _m.Call(0, Ipi, 1, 1, 0).Error);
        Assert.False(SoftwareInterruptPending(0));
    }

    // ---------------------------------------------------------------- RFENCE

    [Theory]
    [InlineData(0L)] // remote_fence_i
    [InlineData(1L)] // remote_sfence_vma
    [InlineData(2L)] // remote_sfence_vma_asid
    public void Rfence_succeeds_for_valid_masks_and_is_invalid_param_for_a_hart_that_does_not_exist(long function)
    {
        Assert.Equal(Success, _m.Call(0, Rfence, function, 0b1111, 0, 0, 0, 0).Error);
        Assert.Equal(Success, _m.Call(0, Rfence, function, 0b1, 3, 0x8000_0000, 0x1000, 0).Error);
        Assert.Equal(Success, _m.Call(0, Rfence, function, 0, AllHarts, 0, ulong.MaxValue, 0).Error);
        Assert.Equal(ErrInvalidParam, _m.Call(0, Rfence, function, 0b10000, 0, 0, 0, 0).Error);
        Assert.Equal(ErrInvalidParam, _m.Call(0, Rfence, function, 0b1, 4, 0, 0, 0).Error);
        Assert.Equal(ErrInvalidParam, _m.Call(0, Rfence, function, 0b100, ulong.MaxValue - 1, 0, 0, 0).Error);
    }

    [Theory]
    [InlineData(3L)] // remote_hfence_gvma_vmid
    [InlineData(4L)] // remote_hfence_gvma
    [InlineData(5L)] // remote_hfence_vvma_asid
    [InlineData(6L)] // remote_hfence_vvma
    [InlineData(7L)] // no such function
    public void Rfence_hypervisor_fences_are_not_supported_without_the_h_extension(long function)
    {
        // "SBI_ERR_NOT_SUPPORTED: ... one of the target hart doesn't support hypervisor extension."
        Assert.Equal(ErrNotSupported, _m.Call(0, Rfence, function, 0b1, 0, 0, 0, 0).Error);
    }

    // ---------------------------------------------------------------- HSM

    private void StopSecondaries()
    {
        for (int h = 1; h < _m.HartCount; h++)
        {
            _m.Harts[h].State = HartState.Stopped; // as at boot: only the boot hart runs
        }
    }

    [Fact]
    public void Hsm_hart_start_runs_a_stopped_hart_in_s_mode_at_start_addr_with_a0_hartid_a1_opaque()
    {
        StopSecondaries();
        Assert.Equal((Success, Stopped), _m.Call(0, Hsm, 2, 2));

        var (error, _) = _m.Call(0, Hsm, 0, 2, 0x8020_1000, 0xC0FFEE);
        Assert.Equal(Success, error);
        var hart = _m.Harts[2];
        Assert.Equal(HartState.Running, hart.State);
        Assert.Equal(0x8020_1000UL, hart.Pc);
        Assert.Equal(PrivilegeMode.Supervisor, hart.Mode);
        Assert.Equal(2UL, hart.GetRegister(10));         // a0 = hartid
        Assert.Equal(0xC0FFEEUL, hart.GetRegister(11));  // a1 = opaque
        Assert.Equal(0UL, _m.ReadCsr(2, Satp));           // satp = 0
        Assert.Equal(0UL, _m.ReadCsr(2, Sstatus) & SstatusSie); // sstatus.SIE = 0
        Assert.Equal((Success, Started), _m.Call(0, Hsm, 2, 2));
        Assert.Equal((Success, Stopped), _m.Call(0, Hsm, 2, 3)); // the others are untouched
    }

    [Fact]
    public void Hsm_starting_a_hart_that_is_already_started_is_already_available_and_leaves_it_alone()
    {
        StopSecondaries();
        _m.Harts[1].State = HartState.WaitingForInterrupt; // started, idle in WFI
        _m.Harts[1].Pc = 0x8000_4000;

        Assert.Equal(ErrAlreadyAvailable, _m.Call(0, Hsm, 0, 0, 0x8020_0000, 0).Error); // the caller itself
        Assert.Equal(ErrAlreadyAvailable, _m.Call(0, Hsm, 0, 1, 0x8020_0000, 0).Error);
        Assert.Equal(0x8000_4000UL, _m.Harts[1].Pc);
        Assert.Equal(HartState.WaitingForInterrupt, _m.Harts[1].State);
        Assert.Equal((Success, Started), _m.Call(0, Hsm, 2, 1)); // WFI is still STARTED

        Assert.Equal(Success, _m.Call(0, Hsm, 0, 3, 0x8020_0000, 0).Error);
        Assert.Equal(ErrAlreadyAvailable, _m.Call(0, Hsm, 0, 3, 0x8030_0000, 0).Error);
        Assert.Equal(0x8020_0000UL, _m.Harts[3].Pc);
    }

    [Theory]
    [InlineData(4UL)]
    [InlineData(64UL)]
    [InlineData(ulong.MaxValue)]
    public void Hsm_an_invalid_hartid_is_invalid_param_for_start_and_get_status(ulong hartId)
    {
        StopSecondaries();
        Assert.Equal(ErrInvalidParam, _m.Call(0, Hsm, 0, hartId, 0x8020_0000, 0).Error);
        Assert.Equal(ErrInvalidParam, _m.Call(0, Hsm, 2, hartId).Error);
        Assert.All(_m.Harts.Skip(1), h => Assert.Equal(HartState.Stopped, h.State));
    }

    [Fact]
    public void Hsm_hart_stop_stops_the_calling_hart_which_can_then_be_started_again()
    {
        StopSecondaries();
        Assert.Equal(Success, _m.Call(0, Hsm, 0, 1, 0x8020_0000, 7).Error);
        Assert.Equal((Success, Started), _m.Call(0, Hsm, 2, 1));

        _m.Call(1, Hsm, 1);
        Assert.Equal(HartState.Stopped, _m.Harts[1].State);
        Assert.Equal((Success, Stopped), _m.Call(0, Hsm, 2, 1));
        Assert.Equal(HartState.Running, _m.Harts[0].State);

        Assert.Equal(Success, _m.Call(0, Hsm, 0, 1, 0x8030_0000, 8).Error);
        Assert.Equal(0x8030_0000UL, _m.Harts[1].Pc);
        Assert.Equal(8UL, _m.Harts[1].GetRegister(11));
    }

    [Theory]
    [InlineData(3L)]  // hart_suspend: not served
    [InlineData(4L)]
    [InlineData(-1L)]
    public void Hsm_functions_that_are_not_served_are_not_supported(long function)
    {
        Assert.Equal(ErrNotSupported, _m.Call(0, Hsm, function, 0, 0x8020_0000, 0).Error);
        Assert.Equal(HartState.Running, _m.Harts[0].State);
    }

    // ---------------------------------------------------------------- SRST

    [Theory]
    [InlineData(0u, 0u, SystemResetKind.Shutdown)]
    [InlineData(0u, 1u, SystemResetKind.Shutdown)]   // reason: system failure
    [InlineData(1u, 0u, SystemResetKind.Reboot)]     // cold reboot
    [InlineData(2u, 0u, SystemResetKind.Reboot)]     // warm reboot
    [InlineData(2u, 1u, SystemResetKind.Reboot)]
    public void Srst_system_reset_shuts_down_or_reboots_and_does_not_return(uint type, uint reason, SystemResetKind expected)
    {
        _m.Call(1, Srst, 0, type, reason);
        Assert.Equal(new[] { expected }, _m.Resets);
        Assert.Equal(HartState.Stopped, _m.Harts[1].State); // "does not return if it succeeds"
    }

    [Theory]
    [InlineData(3u, 0u)]            // reset_type 0x3-0xEFFFFFFF: reserved
    [InlineData(0xEFFFFFFFu, 0u)]
    [InlineData(0xF0000000u, 0u)]   // vendor or platform specific: not implemented here
    [InlineData(0xFFFFFFFFu, 0u)]
    [InlineData(0u, 2u)]            // reset_reason 0x2-0xDFFFFFFF: reserved
    [InlineData(1u, 0xDFFFFFFFu)]
    [InlineData(0u, 0xE0000000u)]   // SBI implementation specific: none defined here
    [InlineData(2u, 0xF0000000u)]   // vendor or platform specific
    public void Srst_a_reserved_or_unimplemented_type_or_reason_is_invalid_param_and_nothing_happens(uint type, uint reason)
    {
        Assert.Equal(ErrInvalidParam, _m.Call(1, Srst, 0, type, reason).Error);
        Assert.Empty(_m.Resets);
        Assert.Equal(HartState.Running, _m.Harts[1].State);
    }

    [Fact]
    public void Srst_unknown_function_is_not_supported()
    {
        Assert.Equal(ErrNotSupported, _m.Call(0, Srst, 1, 0, 0).Error);
        Assert.Empty(_m.Resets);
    }

    // ---------------------------------------------------------------- Legacy (EIDs 0x00-0x0F)

    [Fact]
    public void Legacy_console_putchar_writes_the_byte_returns_0_and_leaves_a1()
    {
        var (a0, a1) = _m.Call(0, 0x01, 0, 'h', 0x77);
        Assert.Equal(0L, a0);
        Assert.Equal(0x77UL, a1);
        _m.Call(0, 0x01, 0, 0x100 | 'i'); // ch is an int: its low byte is the character
        Assert.Equal("hi"u8.ToArray(), _m.Output);
    }

    [Fact]
    public void Legacy_console_getchar_returns_minus_1_without_input_then_each_queued_byte_in_order()
    {
        Assert.False(_m.Server.ConsoleInputUsed);
        var (a0, a1) = _m.Call(0, 0x02, 0, 0, 0x99);
        Assert.Equal(-1L, a0); // "returns the byte on success, or -1 for failure"
        Assert.Equal(0x99UL, a1);
        Assert.True(_m.Server.ConsoleInputUsed); // the machine now routes keyboard input here, not to the UART

        _m.QueueInput((byte)'o', (byte)'k', 0xFF);
        Assert.Equal((long)'o', _m.Call(0, 0x02, 0).Error);
        Assert.Equal((long)'k', _m.Call(0, 0x02, 0).Error);
        Assert.Equal(0xFFL, _m.Call(0, 0x02, 0).Error); // byte 0xFF is a byte, not the -1 of "nothing"
        Assert.Equal(-1L, _m.Call(0, 0x02, 0).Error);
    }

    [Fact]
    public void Legacy_shutdown_powers_off_and_does_not_return()
    {
        _m.Call(2, 0x08, 0);
        Assert.Equal(new[] { SystemResetKind.Shutdown }, _m.Resets);
        Assert.Equal(HartState.Stopped, _m.Harts[2].State);
    }

    [Theory]
    [InlineData(0x03L)] // clear_ipi
    [InlineData(0x04L)] // send_ipi (takes a pointer to a mask)
    [InlineData(0x05L)] // remote_fence_i
    [InlineData(0x06L)] // remote_sfence_vma
    [InlineData(0x07L)] // remote_sfence_vma_asid
    [InlineData(0x09L)] // reserved
    [InlineData(0x0FL)]
    public void Legacy_extensions_that_are_not_served_return_not_supported_in_a0_only(long extension)
    {
        // Legacy convention: "Nothing is returned in a1 register. All registers except a0 must be preserved."
        var (a0, a1) = _m.Call(0, extension, 0, 0, 0x1234);
        Assert.Equal(ErrNotSupported, a0);
        Assert.Equal(0x1234UL, a1);
        Assert.Empty(_m.Resets);
    }

    // ---------------------------------------------------------------- unknown extensions

    [Theory]
    [InlineData(0x4442434EL)] // DBCN
    [InlineData(0x504D55L)]   // PMU
    [InlineData(0x12345678L)]
    [InlineData(0x10000L)]
    [InlineData(-1L)]
    public void An_unknown_extension_is_not_supported(long extension)
    {
        // "An ECALL with an unsupported SBI extension ID (EID) ... must return the error code SBI_ERR_NOT_SUPPORTED."
        Assert.Equal(ErrNotSupported, _m.Call(0, extension, 0, 0).Error);
        Assert.Empty(_m.Resets);
        Assert.Empty(_m.Output);
    }
}
