//! Why a start failed or a reload was refused: every reason found, not only the first,
//! so an operator fixes them all in one round (as `switchyard validate` does for the
//! topology file itself).

use std::net::SocketAddr;

/// One thing that kept the server from starting, or a reload from being applied.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener's address could not be bound (in use, not local, no permission).
    #[error("listener `{listener}` cannot bind {addr}: {source}")]
    Bind {
        listener: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// A handler's storage root could not be opened or created.
    #[error("handler `{handler}`: storage root {root}: {reason}")]
    Root {
        handler: String,
        root: String,
        reason: String,
    },
    /// A plugin named by the topology could not be loaded (it was at validation).
    #[error("handler `{handler}`: {reason}")]
    Plugin { handler: String, reason: String },
    /// The bus cannot be used as the topology says (a credentials variable not set).
    #[error("bus: {reason}")]
    Bus { reason: String },
}

/// Every reason a start failed or a reload was refused (never empty); the running
/// topology, if any, is then unchanged. Displayed one reason per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", lines(.0))]
pub struct StartErrors(pub Vec<StartError>);

impl StartErrors {
    /// Each reason, in the order found: admin endpoint, listeners, then handlers.
    pub fn iter(&self) -> std::slice::Iter<'_, StartError> {
        self.0.iter()
    }
}

fn lines(errors: &[StartError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl<'a> IntoIterator for &'a StartErrors {
    type Item = &'a StartError;
    type IntoIter = std::slice::Iter<'a, StartError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
