//! What callbacks return.

/// `on_connect`'s answer: serve the client with this state, or refuse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission<S> {
    /// Serve the client; its per-connection state starts as this value.
    Accept(S),
    /// Close the client at once; `on_close` is not called for it.
    Refuse,
}

/// `on_data`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Keep the connection; this many bytes from the front of the data
    /// were consumed. The rest stays in the connection's buffer and is
    /// presented again, with the next bytes appended, on the next call.
    Consumed(usize),
    /// Close the connection once the output queued so far is delivered (or
    /// the close timeout passes). No more input is handed to the handler
    /// (what arrives is read and dropped).
    Close,
}

/// The old name of [`Admission`], kept for a release.
#[deprecated(since = "0.1.0", note = "renamed `Admission` (one word for one idea)")]
pub type Decision<S> = Admission<S>;
