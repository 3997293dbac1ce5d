//! Close status codes (RFC 6455 section 7.4) and the close frame's payload.

/// A close status code.
pub type CloseCode = u16;

/// 1000: the purpose of the connection was fulfilled.
pub const NORMAL: CloseCode = 1000;
/// 1001: the endpoint is going away (server shutdown, page left, or a peer
/// that stopped answering pings).
pub const GOING_AWAY: CloseCode = 1001;
/// 1002: the peer broke the protocol.
pub const PROTOCOL_ERROR: CloseCode = 1002;
/// 1003: a kind of data the endpoint cannot take.
pub const UNSUPPORTED_DATA: CloseCode = 1003;
/// 1007: a payload inconsistent with its type (text that is not UTF-8).
pub const INVALID_PAYLOAD: CloseCode = 1007;
/// 1008: a message that violates the endpoint's policy.
pub const POLICY_VIOLATION: CloseCode = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: CloseCode = 1009;
/// 1011: the server met an unexpected condition.
pub const INTERNAL_ERROR: CloseCode = 1011;

/// Whether `code` may be sent in a close frame: the codes RFC 6455 and the
/// IANA registry define (1000-1003, 1007-1014), and those for libraries
/// and applications (3000-4999). 1004-1006 and 1015 are reserved for
/// reporting only and never sent; other values are not assigned.
pub fn is_valid_close_code(code: CloseCode) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close frame's payload, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, if the frame had one (it may be empty).
    pub code: Option<CloseCode>,
    /// The reason after the code (UTF-8, possibly empty).
    pub reason: &'a str,
}

/// Reads an unmasked close payload: empty, or a valid code and a UTF-8
/// reason.
///
/// # Errors
///
/// 1002 for a one-byte payload or a code that may not be sent; 1007 for a
/// reason that is not UTF-8.
pub fn parse_close(payload: &[u8]) -> Result<CloseFrame<'_>, ProtocolError> {
    match payload {
        [] => Ok(CloseFrame {
            code: None,
            reason: "",
        }),
        [_] => Err(ProtocolError::new(
            PROTOCOL_ERROR,
            "close frame with a one-byte payload",
        )),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !is_valid_close_code(code) {
                return Err(ProtocolError::new(PROTOCOL_ERROR, "invalid close code"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| INVALID_UTF8)?;
            Ok(CloseFrame {
                code: Some(code),
                reason,
            })
        }
    }
}

/// A broken rule: the close code to send, and a short reason for logs and
/// for the close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// The status code for the close frame (1002, 1007 or 1009).
    pub code: CloseCode,
    /// What was wrong, in a few words.
    pub reason: &'static str,
}

impl ProtocolError {
    /// An error with `code` and `reason`.
    pub const fn new(code: CloseCode, reason: &'static str) -> Self {
        Self { code, reason }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (close code {})", self.reason, self.code)
    }
}

impl std::error::Error for ProtocolError {}

/// A text payload that is not UTF-8.
pub(crate) const INVALID_UTF8: ProtocolError =
    ProtocolError::new(INVALID_PAYLOAD, "text is not valid UTF-8");
