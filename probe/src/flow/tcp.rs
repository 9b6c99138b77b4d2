//! TCP connection state as seen from a passive observation point.
//!
//! The probe sees both directions but neither endpoint's stack, so the machine is deliberately
//! lenient: it only moves forward and never rejects a segment (every segment is still counted).
//!
//! ```text
//!            SYN (initiator)          SYN-ACK (responder)        ACK (initiator)
//!   None ─────────────────► SynSent ─────────────────► SynReceived ─────────────► Established
//!    │  SYN-ACK first (we missed the SYN) ─────────────────▲                          │
//!    │  any segment without SYN (picked up mid-stream) ────────────────────────────────►│
//!    │                                                                                  │ FIN one way
//!    │                                                                                  ▼
//!    │            RST from any state, or FIN seen in both directions              HalfClosed
//!    └─────────────────────────────────────────────────────────────────────────► Closed ◄┘
//! ```
//!
//! - Retransmitted SYNs (in `SynSent`) and SYN-ACKs (in `SynReceived`) keep the state; the shard
//!   measures the handshake RTT from the latest one (what the peer answered most likely).
//! - `Closed` is terminal for this flow: the shard keeps a closed flow for the linger time to absorb
//!   trailing ACKs and retransmitted FINs, and a new SYN (without ACK) on a closed tuple ends it and
//!   starts a new flow (port reuse).
//! - Simultaneous close (both FINs cross) reaches `Closed` as soon as both FINs were seen, in
//!   either order.

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum TcpState {
    /// No segment classified yet.
    #[default]
    None = 0,
    SynSent = 1,
    SynReceived = 2,
    Established = 3,
    /// FIN seen in one direction only.
    HalfClosed = 4,
    /// FIN seen both ways, or RST.
    Closed = 5,
}

impl TcpState {
    pub fn from_u8(v: u8) -> TcpState {
        match v {
            1 => TcpState::SynSent,
            2 => TcpState::SynReceived,
            3 => TcpState::Established,
            4 => TcpState::HalfClosed,
            5 => TcpState::Closed,
            _ => TcpState::None,
        }
    }

    /// The state after a segment with `flags`, sent by the initiator when `from_init`;
    /// `fin` says whether a FIN has been seen in each direction (this segment included).
    pub fn step(self, flags: u8, from_init: bool, fin: [bool; 2]) -> TcpState {
        use TcpState::*;
        if self == Closed || flags & RST != 0 || (fin[0] && fin[1]) {
            return Closed;
        }
        if fin[0] || fin[1] {
            return HalfClosed;
        }
        let syn = flags & (SYN | ACK) == SYN;
        let syn_ack = flags & (SYN | ACK) == SYN | ACK;
        match self {
            None if syn => SynSent,
            None if syn_ack => SynReceived,
            None => Established,
            SynSent if syn_ack && !from_init => SynReceived,
            SynReceived if from_init && flags & (SYN | ACK) == ACK => Established,
            s => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TcpState::*;
    use super::*;

    fn run(segs: &[(u8, bool)]) -> Vec<TcpState> {
        let mut s = None;
        let mut fin = [false; 2];
        segs.iter()
            .map(|&(f, from_init)| {
                if f & FIN != 0 {
                    fin[usize::from(!from_init)] = true;
                }
                s = s.step(f, from_init, fin);
                s
            })
            .collect()
    }

    #[test]
    fn three_way_handshake_and_close() {
        let st = run(&[
            (SYN, true),
            (SYN | ACK, false),
            (ACK, true),
            (FIN | ACK, true),
            (ACK, false),
            (FIN | ACK, false),
            (ACK, true),
        ]);
        assert_eq!(
            st,
            vec![
                SynSent,
                SynReceived,
                Established,
                HalfClosed,
                HalfClosed,
                Closed,
                Closed
            ]
        );
    }

    #[test]
    fn retransmitted_syn_rst_midstream_and_simultaneous_close() {
        assert_eq!(run(&[(SYN, true), (SYN, true)]), vec![SynSent, SynSent]);
        // A SYN-ACK from the initiator side does not complete anything.
        assert_eq!(run(&[(SYN, true), (SYN | ACK, true)])[1], SynSent);
        assert_eq!(run(&[(SYN, true), (RST | ACK, false)])[1], Closed);
        assert_eq!(run(&[(ACK, true)]), vec![Established]);
        assert_eq!(
            run(&[(SYN | ACK, false), (ACK, true)]),
            vec![SynReceived, Established]
        );
        // Both FINs cross on the wire.
        let st = run(&[(ACK, true), (FIN | ACK, true), (FIN | ACK, false)]);
        assert_eq!(st, vec![Established, HalfClosed, Closed]);
        // Closed is terminal.
        assert_eq!(Closed.step(SYN, true, [false; 2]), Closed);
        for v in 0..6u8 {
            assert_eq!(TcpState::from_u8(v) as u8, v);
        }
    }
}
