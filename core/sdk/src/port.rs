//! [`Port`]: a typed message port a plugin declares (below `Protocol` and `Ctx`,
//! which both name it).

use crate::abi;

/// A typed message port. Build them in a `const` list with [`Port::input`] and
/// [`Port::output`]; the type name is what `validate` compares across a route.
pub type Port = abi::SyPortDecl;

impl abi::SyPortDecl {
    /// An input port receiving messages of `type_name` (`"*"`: any type).
    pub const fn input(name: &'static str, type_name: &'static str) -> Port {
        abi::SyPortDecl {
            direction: abi::SY_PORT_IN,
            name: abi::SyStr::from_str(name),
            type_name: abi::SyStr::from_str(type_name),
        }
    }

    /// An output port emitting messages of `type_name`.
    pub const fn output(name: &'static str, type_name: &'static str) -> Port {
        abi::SyPortDecl {
            direction: abi::SY_PORT_OUT,
            name: abi::SyStr::from_str(name),
            type_name: abi::SyStr::from_str(type_name),
        }
    }

    /// The port's name.
    pub fn name_str(&self) -> &'static str {
        // SAFETY: ports are built from `&'static str` by the constructors above.
        std::str::from_utf8(unsafe { self.name.as_bytes() }).unwrap_or("")
    }
}
