using System.Text;
using Backup.Hypervisor.Devices;

namespace Backup.Hypervisor.Tests.Devices;

public sealed class Uart16550Tests
{
    private const ulong Rbr = 0, Ier = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    private readonly List<byte> _output = [];
    private readonly RecordingInterruptLine _line = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests() => _uart = new Uart16550(_output.Add, _line);

    private byte In(ulong offset) => (byte)_uart.Read(offset, 1);

    private void Out(ulong offset, byte value) => _uart.Write(offset, 1, value);

    [Fact]
    public void Transmitted_bytes_go_to_the_sink_and_the_transmitter_is_always_empty()
    {
        Assert.Equal(0x60, In(Lsr));
        foreach (byte b in "ok\n"u8)
        {
            Out(Rbr, b);
        }

        Assert.Equal("ok\n"u8.ToArray(), _output);
        Assert.Equal(0x60, In(Lsr));
        Assert.Equal(0x01, In(Iir));
        Assert.False(_line.Level);
    }

    [Fact]
    public void Loopback_returns_transmitted_bytes_and_wires_modem_outputs_to_inputs()
    {
        Out(Mcr, 0x10 | 0x0A); // LOOP | RTS | OUT2, as Linux's 8250 probe does
        Assert.Equal(0x90, In(Msr) & 0xF0); // CTS | DCD
        Out(Rbr, 0x5A);
        Assert.Empty(_output);
        Assert.Equal(0x61, In(Lsr));
        Assert.Equal(0x5A, In(Rbr));
        Assert.Equal(0x60, In(Lsr));

        Out(Mcr, 0);
        Assert.Equal(0xB0, In(Msr) & 0xF0); // a connected terminal outside loopback
        Out(Rbr, 0x41);
        Assert.Equal([0x41], _output);
    }

    [Fact]
    public void Divisor_latch_shadows_rbr_thr_and_ier()
    {
        Out(Ier, 0x05);
        Out(Lcr, 0x83); // DLAB, 8N1
        Out(Rbr, 0x0C); // DLL
        Out(Ier, 0x00); // DLM
        Assert.Equal(0x0C, In(Rbr));
        Assert.Equal(0x00, In(Ier));
        Assert.Empty(_output);

        Out(Lcr, 0x03);
        Assert.Equal(0x03, In(Lcr));
        Assert.Equal(0x05, In(Ier));
        Out(Lcr, 0x83);
        Assert.Equal(0x0C, In(Rbr));
    }

    [Fact]
    public void Scratch_register_holds_values()
    {
        Out(Scr, 0xA5);
        Assert.Equal(0xA5, In(Scr));
        Out(Scr, 0x5A);
        Assert.Equal(0x5A, In(Scr));
    }

    [Fact]
    public async Task Input_from_another_thread_raises_the_receive_interrupt_on_poll()
    {
        Out(Fcr, 0x07);
        Out(Ier, 0x01);
        Assert.False(_line.Level);

        await Task.Run(() => _uart.EnqueueInput("hi"u8));
        Assert.False(_line.Level); // nothing happens off the VM thread
        _uart.Poll(0);
        Assert.True(_line.Level);
        Assert.Equal(0xC4, In(Iir));
        Assert.Equal(0x61, In(Lsr));

        Assert.Equal((byte)'h', In(Rbr));
        Assert.True(_line.Level);
        Assert.Equal((byte)'i', In(Rbr));
        Assert.False(_line.Level);
        Assert.Equal(0xC1, In(Iir));
    }

    [Fact]
    public async Task Concurrent_input_from_several_threads_keeps_every_byte()
    {
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                _uart.EnqueueInput([(byte)('a' + w)]);
            }
        })).ToArray();
        await Task.WhenAll(writers);
        _uart.Poll(0);

        var received = new StringBuilder();
        while ((In(Lsr) & 1) != 0)
        {
            received.Append((char)In(Rbr));
        }

        Assert.Equal(800, received.Length);
        Assert.All("abcd", c => Assert.Equal(200, received.ToString().Count(x => x == c)));
    }

    [Fact]
    public void Thre_interrupt_follows_16550_semantics()
    {
        Out(Ier, 0x02); // enabling ETBEI with THR empty raises THRE
        Assert.True(_line.Level);
        Assert.Equal(0x02, In(Iir)); // reading IIR while THRE is the source clears it
        Assert.False(_line.Level);
        Assert.Equal(0x01, In(Iir));

        Out(Rbr, (byte)'x'); // the write completes at once: THRE again
        Assert.True(_line.Level);
        Out(Ier, 0x00);
        Assert.False(_line.Level);
        Out(Ier, 0x02);
        Assert.True(_line.Level);
    }

    [Fact]
    public void Iir_reports_received_data_before_thre()
    {
        Out(Fcr, 0x01);
        _uart.EnqueueInput("z"u8);
        Out(Ier, 0x03);
        Assert.Equal(0xC4, In(Iir));
        Assert.True(_line.Level);
        Assert.Equal(0xC4, In(Iir)); // RX is not cleared by reading IIR
        Assert.Equal((byte)'z', In(Rbr));
        Assert.Equal(0xC2, In(Iir)); // THRE was pending underneath, now reported and cleared
        Assert.Equal(0xC1, In(Iir));
        Assert.False(_line.Level);
    }

    [Fact]
    public void Fifo_control_clears_the_receive_queue()
    {
        _uart.EnqueueInput("abc"u8);
        Out(Fcr, 0x01 | 0x02);
        Assert.Equal(0x60, In(Lsr));
    }

    [Fact]
    public void Excess_input_is_dropped_and_reported_as_overrun()
    {
        _uart.EnqueueInput(new byte[Uart16550.InputCapacity + 100]);
        Assert.Equal(100, _uart.DroppedInputBytes);
        Assert.Equal(0x63, In(Lsr)); // DR | OE | THRE | TEMT
        Assert.Equal(0x61, In(Lsr)); // OE clears on read
    }

    [Fact]
    public void Linux_style_probe_sequence_sees_a_16550A()
    {
        // LCR read-back and scratch tests.
        Out(Lcr, 0xBF);
        Assert.Equal(0xBF, In(Lcr));
        Out(Lcr, 0x00);
        Out(Scr, 0xA5);
        Assert.Equal(0xA5, In(Scr));

        // FIFO test: enabling the FIFO shows 0xC0 in IIR.
        Out(Fcr, 0x01);
        Assert.Equal(0xC0, In(Iir) & 0xC0);
        Out(Fcr, 0x00);
        Assert.Equal(0x00, In(Iir) & 0xC0);

        // THRE test on startup: IER=THRI gives an interrupt; re-enabling gives another.
        Out(Ier, 0x02);
        Assert.Equal(0x02, In(Iir) & 0x0F);
        Out(Ier, 0x00);
        Out(Ier, 0x02);
        Assert.Equal(0x02, In(Iir) & 0x0F);
        Out(Ier, 0x00);
        Assert.False(_line.Level);
    }

    [Fact]
    public void Modem_status_interrupt_reports_loopback_changes_until_msr_is_read()
    {
        Out(Ier, 0x08);
        Out(Mcr, 0x10); // loopback with all outputs low: CTS/DSR/DCD drop
        Assert.True(_line.Level);
        Assert.Equal(0x00, In(Iir) & 0x0F);
        Assert.NotEqual(0, In(Msr) & 0x0F);
        Assert.False(_line.Level);
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public void Unknown_offsets_read_zero()
    {
        Assert.Equal(0UL, _uart.Read(8, 1));
        Assert.Equal(0UL, _uart.Read(0xFF, 1));
        _uart.Write(0x80, 1, 0x41);
        Assert.Empty(_output);
    }
}
