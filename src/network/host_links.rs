//! The MAC addresses of the links in the agent's own namespace: how the ENI
//! watcher sees an ENI arrive on the host, as the Go agent's watcher
//! (agent/eni/watcher) matches netlink links by MAC.

use super::{link, netns, NetworkError};

/// Every MAC address a link of the host namespace has (links without one,
/// like `lo`, are left out).
pub async fn host_macs() -> Result<Vec<[u8; 6]>, NetworkError> {
    let host = netns::host_handle()?;
    Ok(link::list(&host.handle)
        .await?
        .into_iter()
        .filter_map(|(_, _, mac)| <[u8; 6]>::try_from(mac.as_slice()).ok())
        .collect())
}
