using System.Text;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;

namespace Backup.Network.Dhcp;

public sealed partial class DhcpServer
{
    private static readonly TimeSpan OfferHold = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan DeclineHold = TimeSpan.FromMinutes(10);
    private DateTimeOffset _lastSaved;

    private void OnDiscover(DhcpMessage message)
    {
        uint? address;
        lock (_gate)
        {
            address = ChooseAddress(message.ClientMac, message.RequestedAddress);
            if (address is { } a)
            {
                PruneOffers();
                _offers[message.ClientMac] = (a, _time.GetUtcNow() + OfferHold);
            }
        }

        if (address is null)
        {
            Interlocked.Increment(ref _exhausted);
            return;
        }

        Send(message, DhcpMessage.Offer, address.Value);
    }

    private void OnRequest(DhcpMessage message)
    {
        if (message.ServerIdentifier is { } id && id != _server)
        {
            lock (_gate)
            {
                _offers.Remove(message.ClientMac); // the client chose another server
            }

            return;
        }

        uint requested = message.RequestedAddress ?? message.ClientAddress;
        if (requested == 0)
        {
            Interlocked.Increment(ref _malformed);
            return;
        }

        bool granted;
        lock (_gate)
        {
            granted = IsAllowed(message.ClientMac, requested);
            if (granted)
            {
                var now = _time.GetUtcNow();
                string? hostname = SanitizeHostname(message.Hostname);
                _leases.TryGetValue(message.ClientMac, out var previous);
                var lease = new DhcpLease(message.ClientMac, ApplianceEndpoint.ToAddress(requested), hostname ?? previous?.Hostname, now + Options.LeaseTime);
                _leases[message.ClientMac] = lease;
                _offers.Remove(message.ClientMac);
                bool changed = previous is null || !previous.Address.Equals(lease.Address) || previous.Hostname != lease.Hostname;
                if (changed || now - _lastSaved > TimeSpan.FromMinutes(1))
                {
                    Save(now);
                }
            }
        }

        Send(message, granted ? DhcpMessage.Ack : DhcpMessage.Nak, granted ? requested : 0);
    }

    private void OnDecline(DhcpMessage message)
    {
        if (message.RequestedAddress is not { } address)
        {
            return;
        }

        lock (_gate)
        {
            if (_leases.TryGetValue(message.ClientMac, out var lease) && ApplianceEndpoint.ToUInt32(lease.Address) == address)
            {
                _leases.Remove(message.ClientMac);
                if (_declined.Count < 256)
                {
                    _declined[address] = _time.GetUtcNow() + DeclineHold;
                }

                Save(_time.GetUtcNow());
            }
        }
    }

    private void OnRelease(DhcpMessage message)
    {
        lock (_gate)
        {
            if (_leases.TryGetValue(message.ClientMac, out var lease) && ApplianceEndpoint.ToUInt32(lease.Address) == message.ClientAddress)
            {
                _leases.Remove(message.ClientMac);
                Save(_time.GetUtcNow());
            }
        }
    }

    /// <summary>The address to offer: reservation, this MAC's previous lease or offer, the requested one if free, then the pool.</summary>
    private uint? ChooseAddress(MacAddress mac, uint? requested)
    {
        if (_reservations.TryGetValue(mac, out uint reserved))
        {
            return reserved;
        }

        if (_leases.TryGetValue(mac, out var lease) && IsAllowed(mac, ApplianceEndpoint.ToUInt32(lease.Address)))
        {
            return ApplianceEndpoint.ToUInt32(lease.Address);
        }

        if (_offers.TryGetValue(mac, out var offer) && IsAllowed(mac, offer.Address))
        {
            return offer.Address;
        }

        if (requested is { } r && r >= _poolFirst && r <= _poolLast && IsAllowed(mac, r))
        {
            return r;
        }

        for (uint a = _poolFirst; a <= _poolLast; a++)
        {
            if (IsAllowed(mac, a))
            {
                return a;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="mac"/> may hold <paramref name="address"/> now.</summary>
    private bool IsAllowed(MacAddress mac, uint address)
    {
        if (!Options.Subnet.ContainsHost(address) || address == _server)
        {
            return false;
        }

        if (_reservations.TryGetValue(mac, out uint reserved))
        {
            return reserved == address;
        }

        if (_reservations.ContainsValue(address))
        {
            return false;
        }

        var now = _time.GetUtcNow();
        if (_declined.TryGetValue(address, out var until) && until > now)
        {
            return false;
        }

        foreach (var lease in _leases.Values)
        {
            if (lease.Mac != mac && lease.Expires > now && ApplianceEndpoint.ToUInt32(lease.Address) == address)
            {
                return false;
            }
        }

        foreach (var (other, offer) in _offers)
        {
            if (other != mac && offer.Until > now && offer.Address == address)
            {
                return false;
            }
        }

        bool ownLease = _leases.TryGetValue(mac, out var own) && ApplianceEndpoint.ToUInt32(own.Address) == address;
        return ownLease || (address >= _poolFirst && address <= _poolLast);
    }

    private void PruneOffers()
    {
        var now = _time.GetUtcNow();
        foreach (var mac in _offers.Where(o => o.Value.Until <= now).Select(o => o.Key).ToList())
        {
            _offers.Remove(mac);
        }

        foreach (var address in _declined.Where(d => d.Value <= now).Select(d => d.Key).ToList())
        {
            _declined.Remove(address);
        }

        // an expired lease whose address was handed to another MAC is gone for good
        foreach (var stale in _leases.Values.Where(l => l.Expires <= now
            && _leases.Values.Any(o => o.Mac != l.Mac && o.Expires > now && o.Address.Equals(l.Address))).ToList())
        {
            _leases.Remove(stale.Mac);
        }
    }

    private void Save(DateTimeOffset now)
    {
        _lastSaved = now;
        if (Options.LeaseFile is { } file)
        {
            try
            {
                DhcpLeaseFile.Save(file, _leases.Values);
                LeaseFileError = null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LeaseFileError = $"cannot write the DHCP lease file {file}: {e.Message}"; // leases stay in memory
            }
        }
    }

    /// <summary>A hostname a DNS answer can carry: lowercase letters, digits and dashes, at most 63; null when nothing is left.</summary>
    internal static string? SanitizeHostname(string? name)
    {
        if (name is null)
        {
            return null;
        }

        var b = new StringBuilder();
        foreach (char c in name.ToLowerInvariant())
        {
            if (c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
            {
                b.Append(c);
            }
            else if (c == '.')
            {
                break; // a fully qualified name: keep the host part
            }
        }

        string s = b.ToString().Trim('-');
        return s.Length == 0 ? null : s[..Math.Min(63, s.Length)];
    }
}
