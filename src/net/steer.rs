//! Steering new clients to the shard pinned to the CPU that received them:
//! a classic BPF program on the `SO_REUSEPORT` group
//! (`SO_ATTACH_REUSEPORT_CBPF`) that picks the group's socket by CPU.
//!
//! The kernel runs the program for each new connection on the CPU that
//! processes its SYN, and uses the number it returns as an index into the
//! group's sockets, in the order they started listening (shard order here);
//! an index past the last socket falls back to the usual hash.

use std::io;
use std::os::fd::AsRawFd;

use mio::net::TcpListener;

/// `SO_ATTACH_REUSEPORT_CBPF` and `SO_DETACH_REUSEPORT_BPF`, as
/// asm-generic/socket.h numbers them for these architectures (the `libc`
/// crate defines them only for Android); `None` elsewhere.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "loongarch64"
))]
const OPTIONS: Option<(libc::c_int, libc::c_int)> = Some((51, 68));
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "loongarch64"
)))]
const OPTIONS: Option<(libc::c_int, libc::c_int)> = None;

/// `setsockopt(fd, SOL_SOCKET, option, value)`.
fn set_option<T>(fd: &impl AsRawFd, option: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live `T` of the size we pass; the kernel copies
    // what it needs before returning.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            std::ptr::from_ref(value).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One classic BPF instruction.
fn op(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        // Every opcode used here fits in 16 bits.
        code: u16::try_from(code).unwrap_or(u16::MAX),
        jt,
        jf,
        k,
    }
}

/// The program: the receiving CPU, looked up in `routes` (`(cpu, shard)`
/// pairs: clients received on `cpu` go to `shard`); a CPU not listed goes
/// to shard `cpu mod shards`.
pub(crate) fn program(routes: &[(usize, usize)], shards: usize) -> Vec<libc::sock_filter> {
    let shards = u32::try_from(shards.max(1)).unwrap_or(u32::MAX);
    // A = the CPU this packet is processed on.
    let cpu = (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32;
    let mut code = vec![op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, cpu)];
    for &(core, shard) in routes {
        let (Ok(core), Ok(shard)) = (u32::try_from(core), u32::try_from(shard)) else {
            continue;
        };
        // if A == core: return shard (the next instruction), else skip it.
        code.push(op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, core));
        code.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, shard));
    }
    code.push(op(
        libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K,
        0,
        0,
        shards,
    ));
    code.push(op(libc::BPF_RET | libc::BPF_A, 0, 0, 0));
    code
}

/// Attaches [`program`] to the `SO_REUSEPORT` group `listener` belongs to.
///
/// # Errors
///
/// What `setsockopt` said (for example a kernel before 4.5), or
/// `Unsupported` on an architecture whose option number is not known here.
pub(crate) fn steer_by_cpu(
    listener: &TcpListener,
    routes: &[(usize, usize)],
    shards: usize,
) -> io::Result<()> {
    let (attach, _) = OPTIONS.ok_or(io::ErrorKind::Unsupported)?;
    let mut code = program(routes, shards);
    let prog = libc::sock_fprog {
        len: u16::try_from(code.len()).map_err(|_| io::ErrorKind::InvalidInput)?,
        filter: code.as_mut_ptr(),
    };
    // `prog` points at `code`, alive until this returns.
    set_option(listener, attach, &prog)
}

/// Removes a steering program from the `SO_REUSEPORT` group `listener`
/// has just joined, so the group goes back to the kernel's hash: a server
/// that joins the group of one steering by CPU (`--balance cpu`, or the
/// default where it steers) to replace it would otherwise inherit its steering, and get no clients while the
/// old server's sockets hold the indexes the program returns. Nothing
/// attached (`ENOENT`) is the usual answer; a kernel before 5.3 cannot
/// detach, which is said.
pub(crate) fn detach(listener: &impl AsRawFd) {
    let Some((_, detach)) = OPTIONS else {
        return;
    };
    match set_option(listener, detach, &0 as &libc::c_int) {
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {}
        Err(err) => tracing::warn!(
            %err,
            "cannot take a CPU-steering program off the listening group: if the \
             server joined runs one, this server gets clients only as it steers them"
        ),
        Ok(()) => tracing::info!(
            "took the joined server's CPU steering off the listening group (it steered by \
             --balance cpu or by default): clients are spread by the hash while both run"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::program;

    /// Runs the program's instructions as the kernel would, for `cpu`.
    fn run(code: &[libc::sock_filter], cpu: u32) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let ins = code[pc];
            let code = u32::from(ins.code);
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => a = cpu,
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += usize::from(if a == ins.k { ins.jt } else { ins.jf });
                }
                c if c == libc::BPF_RET | libc::BPF_K => return ins.k,
                c if c == libc::BPF_RET | libc::BPF_A => return a,
                c if c == libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K => a %= ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc += 1;
        }
    }

    #[test]
    fn each_cpu_goes_to_its_shard() {
        // 2 shards over the allowed CPUs 0, 2, 4, 6 (a mask with gaps):
        // shard 0 on CPU 0, shard 1 on CPU 2; the others alternate.
        let code = program(&[(0, 0), (2, 1), (4, 0), (6, 1)], 2);
        assert_eq!([0, 2, 4, 6].map(|cpu| run(&code, cpu)), [0, 1, 0, 1]);
        // A CPU outside the mask still lands on a shard.
        assert_eq!(run(&code, 5), 1);
        assert_eq!(run(&code, 8), 0);
    }
}
