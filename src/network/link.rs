//! The rtnetlink operations the manager needs, each naming what failed.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use futures_util::TryStreamExt;
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::NetworkError;

fn nl(op: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetworkError {
    let op = op.into();
    move |e| NetworkError::Netlink {
        op,
        reason: e.to_string(),
    }
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

fn name_of(m: &LinkMessage) -> Option<String> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

fn mac_of(m: &LinkMessage) -> Option<&[u8]> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(b) => Some(b.as_slice()),
        _ => None,
    })
}

/// The index of link `name`, or `None` when there is none.
pub(crate) async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut s = h.link().get().match_name(name.to_string()).execute();
    match s.try_next().await {
        Ok(m) => Ok(m.map(|m| m.header.index)),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl(format!("get link {name}"))(e)),
    }
}

/// Every link: (index, name, mac).
pub(crate) async fn list(h: &Handle) -> Result<Vec<(u32, String, Vec<u8>)>, NetworkError> {
    let mut s = h.link().get().execute();
    let mut out = Vec::new();
    while let Some(m) = s.try_next().await.map_err(nl("list links"))? {
        out.push((
            m.header.index,
            name_of(&m).unwrap_or_default(),
            mac_of(&m).map(<[u8]>::to_vec).unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// The link with this MAC: (index, name).
pub(crate) async fn by_mac(
    h: &Handle,
    mac: &[u8; 6],
) -> Result<Option<(u32, String)>, NetworkError> {
    Ok(list(h)
        .await?
        .into_iter()
        .find(|(_, _, m)| m.as_slice() == mac)
        .map(|(i, n, _)| (i, n)))
}

/// Creates the bridge if missing, gives it `gw/prefix` and brings it up.
pub(crate) async fn ensure_bridge(
    h: &Handle,
    name: &str,
    gw: Ipv4Addr,
    prefix: u8,
) -> Result<u32, NetworkError> {
    let index = match index_of(h, name).await? {
        Some(i) => i,
        None => {
            if let Err(e) = h.link().add(LinkBridge::new(name).build()).execute().await {
                if errno(&e) != Some(libc::EEXIST) {
                    return Err(nl(format!("create bridge {name}"))(e));
                }
            }
            index_of(h, name)
                .await?
                .ok_or_else(|| NetworkError::Netlink {
                    op: format!("create bridge {name}"),
                    reason: "created but not found".into(),
                })?
        }
    };
    add_addr(h, index, gw, prefix, name).await?;
    set_up(h, index, name).await?;
    Ok(index)
}

/// Adds an address; already present is fine.
pub(crate) async fn add_addr(
    h: &Handle,
    index: u32,
    ip: Ipv4Addr,
    prefix: u8,
    what: &str,
) -> Result<(), NetworkError> {
    match h
        .address()
        .add(index, IpAddr::V4(ip), prefix)
        .execute()
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(nl(format!("add address {ip}/{prefix} to {what}"))(e)),
    }
}

/// Removes every address of the link.
pub(crate) async fn flush_addrs(h: &Handle, index: u32, what: &str) -> Result<(), NetworkError> {
    let mut s = h.address().get().set_link_index_filter(index).execute();
    let mut addrs = Vec::new();
    while let Some(m) = s
        .try_next()
        .await
        .map_err(nl(format!("list addresses of {what}")))?
    {
        if m.header.index == index {
            addrs.push(m);
        }
    }
    for m in addrs {
        match h.address().del(m).execute().await {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
            Err(e) => return Err(nl(format!("delete address of {what}"))(e)),
        }
    }
    Ok(())
}

pub(crate) async fn set_up(h: &Handle, index: u32, what: &str) -> Result<(), NetworkError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl(format!("set {what} up")))
}

pub(crate) async fn set_down(h: &Handle, index: u32, what: &str) -> Result<(), NetworkError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).down().build())
        .execute()
        .await
        .map_err(nl(format!("set {what} down")))
}

/// A veth pair made in one request: `host` on the bridge `bridge` and up,
/// its peer made directly inside the namespace `ns_fd` as `inner` (down).
/// Made there rather than moved there: moving a link between namespaces
/// waits for an RCU grace period in the kernel (`synchronize_net`), 10 to
/// 30 ms measured here, the longest step of a task's network setup.
pub(crate) async fn create_veth_into(
    h: &Handle,
    host: &str,
    bridge: u32,
    inner: &str,
    ns_fd: RawFd,
) -> Result<(), NetworkError> {
    // Not up yet: the kernel opens the peer before it pairs the two ends,
    // and a veth without its pair refuses to open (ENOTCONN).
    let peer = LinkUnspec::new_with_name(inner).setns_by_fd(ns_fd).build();
    let pair = LinkVeth::new(host, inner)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .controller(bridge)
        .up()
        .build();
    h.link().add(pair).execute().await.map_err(nl(format!(
        "create veth {host} with {inner} in the task namespace"
    )))
}

/// Moves a link into the namespace `ns_fd`, renaming it on the way.
pub(crate) async fn move_to_ns(
    h: &Handle,
    index: u32,
    new_name: &str,
    ns_fd: RawFd,
    what: &str,
) -> Result<(), NetworkError> {
    h.link()
        .set(
            LinkUnspec::new_with_index(index)
                .name(new_name.to_string())
                .setns_by_fd(ns_fd)
                .build(),
        )
        .execute()
        .await
        .map_err(nl(format!("move {what} into a namespace as {new_name}")))
}

/// Deletes a link; already gone is fine.
pub(crate) async fn delete(h: &Handle, index: u32, what: &str) -> Result<(), NetworkError> {
    match h.link().del(index).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        Err(e) => Err(nl(format!("delete link {what}"))(e)),
    }
}

/// Adds `dest/prefix via gw` (replacing any equal route).
pub(crate) async fn add_route(
    h: &Handle,
    dest: Ipv4Addr,
    prefix: u8,
    gw: Ipv4Addr,
    oif: u32,
) -> Result<(), NetworkError> {
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dest, prefix)
        .gateway(gw)
        .output_interface(oif)
        .build();
    h.route()
        .add(msg)
        .replace()
        .execute()
        .await
        .map_err(nl(format!("add route {dest}/{prefix} via {gw}")))
}
