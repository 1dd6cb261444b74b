//! Flushing the host's conntrack entries of a released task address, over
//! ctnetlink (NETLINK_NETFILTER) directly: dump, pick the entries whose
//! original source or reply source is the address, delete them by tuple.
//! Without this a UDP flow to a freed host port would keep going to the old
//! task's address until it times out.

use std::io;
use std::net::Ipv4Addr;

const NLMSG_HDR: usize = 16;
const NFGENMSG: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const CTNETLINK: u16 = (libc::NFNL_SUBSYS_CTNETLINK as u16) << 8;
const CT_GET: u16 = CTNETLINK | 1;
const CT_DELETE: u16 = CTNETLINK | 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_IP_V4_SRC: u16 = 1;
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLA_F_NESTED: u16 = 0x8000;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// (type, payload) of each attribute in `buf`.
pub(crate) fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((ty, &buf[4..len]));
        buf = &buf[align4(len).min(buf.len())..];
    }
    out
}

fn find(buf: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(buf)
        .into_iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, p)| p)
}

fn tuple_src(tuple: &[u8]) -> Option<Ipv4Addr> {
    let ip = find(tuple, CTA_TUPLE_IP)?;
    let src = find(ip, CTA_IP_V4_SRC)?;
    let b: [u8; 4] = src.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

/// From one conntrack message's attributes (after nfgenmsg): the delete
/// request attributes (original tuple, zone) if it involves `ip`.
pub(crate) fn delete_attrs_if_matching(msg_attrs: &[u8], ip: Ipv4Addr) -> Option<Vec<u8>> {
    let orig = find(msg_attrs, CTA_TUPLE_ORIG)?;
    let reply = find(msg_attrs, CTA_TUPLE_REPLY);
    let hit = tuple_src(orig) == Some(ip) || reply.and_then(tuple_src) == Some(ip);
    if !hit {
        return None;
    }
    let mut out = Vec::new();
    push_attr(&mut out, CTA_TUPLE_ORIG | NLA_F_NESTED, orig);
    if let Some(z) = find(msg_attrs, CTA_ZONE) {
        push_attr(&mut out, CTA_ZONE | 0x4000, z);
    }
    Some(out)
}

fn push_attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = (4 + payload.len()) as u16;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(align4(out.len()), 0);
}

fn message(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDR + NFGENMSG + body.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[libc::AF_INET as u8, 0, 0, 0]);
    m.extend_from_slice(body);
    m
}

struct Sock(libc::c_int);
impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: closing a descriptor we own.
        unsafe { libc::close(self.0) };
    }
}

impl Sock {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = Sock(fd);
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a valid timeval.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        Ok(s)
    }

    fn send(&self, m: &[u8]) -> io::Result<()> {
        // SAFETY: m is a valid buffer; the kernel is the default destination.
        let n = unsafe { libc::send(self.0, m.as_ptr().cast(), m.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Each netlink message in a datagram: (type, payload after nlmsghdr).
fn messages(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        if len < NLMSG_HDR || len > buf.len() {
            break;
        }
        out.push((ty, &buf[NLMSG_HDR..len]));
        buf = &buf[align4(len).min(buf.len())..];
    }
    out
}

fn nl_error(payload: &[u8]) -> Option<i32> {
    let b: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(-i32::from_ne_bytes(b))
}

/// Deletes every IPv4 conntrack entry from or DNATed to `ip`; returns how many.
pub(crate) fn flush_ip(ip: Ipv4Addr) -> io::Result<usize> {
    let sock = Sock::open()?;
    let flags_dump = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    sock.send(&message(CT_GET, flags_dump, 1, &[]))?;
    let mut buf = vec![0u8; 1 << 18];
    let mut victims = Vec::new();
    'dump: loop {
        let n = sock.recv(&mut buf)?;
        for (ty, payload) in messages(&buf[..n]) {
            match ty {
                NLMSG_DONE => break 'dump,
                NLMSG_ERROR => match nl_error(payload) {
                    Some(0) | None => {}
                    Some(e) => return Err(io::Error::from_raw_os_error(e)),
                },
                _ if payload.len() >= NFGENMSG => {
                    if let Some(a) = delete_attrs_if_matching(&payload[NFGENMSG..], ip) {
                        victims.push(a);
                    }
                }
                _ => {}
            }
        }
    }
    let flags_del = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut deleted = 0;
    for (i, attrs) in victims.iter().enumerate() {
        sock.send(&message(CT_DELETE, flags_del, 2 + i as u32, attrs))?;
        let n = sock.recv(&mut buf)?;
        for (ty, payload) in messages(&buf[..n]) {
            if ty == NLMSG_ERROR {
                match nl_error(payload) {
                    Some(0) => deleted += 1,
                    // Gone already (timed out meanwhile).
                    Some(e) if e == libc::ENOENT => {}
                    Some(e) => return Err(io::Error::from_raw_os_error(e)),
                    None => {}
                }
            }
        }
    }
    Ok(deleted)
}
