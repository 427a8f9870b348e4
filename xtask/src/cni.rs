//! The CNI network pods join: a bridge with host-local IPAM, plus loopback.

use anyhow::Result;
use serde_json::{Value, json};

use crate::layout::{Layout, write_if_changed};

/// Writes the network configuration containerd's CRI plugin loads. Returns
/// whether anything changed.
pub fn write_config(layout: &Layout) -> Result<bool> {
    let dir = layout.cni_conf_dir();
    let bridge = write_if_changed(&dir.join("10-nodelet.conflist"), &pretty(&bridge(layout))?)?;
    let loopback = write_if_changed(&dir.join("99-loopback.conf"), &pretty(&loopback())?)?;
    Ok(bridge || loopback)
}

/// `ipMasq` is off on purpose: pods get no NAT to the outside (there is no
/// network anyway), so neither plugin adds iptables rules without host ports.
fn bridge(layout: &Layout) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "nodelet",
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.bridge(),
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": layout.subnet() }]],
                    "routes": [{ "dst": "0.0.0.0/0" }],
                    "dataDir": layout.cni_ipam_dir(),
                }
            },
            { "type": "portmap", "capabilities": { "portMappings": true } }
        ]
    })
}

fn loopback() -> Value {
    json!({ "cniVersion": "1.0.0", "name": "lo", "type": "loopback" })
}

fn pretty(value: &Value) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}
