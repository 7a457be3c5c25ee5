namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// The <c>event</c> of a multiport console control message (virtio 1.x section 5.3.6.2,
/// <c>struct virtio_console_control { le32 id; le16 event; le16 value; }</c>).
/// </summary>
public enum VirtioConsoleControlEvent : ushort
{
    /// <summary>Driver to device: the driver is ready (value 1) or failed (0); the device then adds its ports.</summary>
    DeviceReady = 0,

    /// <summary>Device to driver: a port with this id exists.</summary>
    PortAdd = 1,

    /// <summary>Device to driver: the port is gone.</summary>
    PortRemove = 2,

    /// <summary>Driver to device: the port was set up (value 1) or not (0).</summary>
    PortReady = 3,

    /// <summary>Device to driver: the port is a console (hvc).</summary>
    ConsolePort = 4,

    /// <summary>Device to driver: a console's size changed.</summary>
    Resize = 5,

    /// <summary>Either way: the sender's end of the port is open (value 1) or closed (0).</summary>
    PortOpen = 6,

    /// <summary>Device to driver: the port's name follows the message header.</summary>
    PortName = 7,
}
