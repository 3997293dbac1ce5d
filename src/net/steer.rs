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

/// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic/socket.h; the `libc` crate
/// defines it only for Android).
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "loongarch64"
))]
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

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

/// The program: the receiving CPU, looked up in `shard_cpus` (shard `i`
/// runs pinned to CPU `shard_cpus[i]`, one shard per CPU); a CPU no shard
/// is pinned to goes to shard `cpu mod shards`.
pub(crate) fn program(shard_cpus: &[usize]) -> Vec<libc::sock_filter> {
    let shards = u32::try_from(shard_cpus.len().max(1)).unwrap_or(u32::MAX);
    // A = the CPU this packet is processed on.
    let cpu = (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32;
    let mut code = vec![op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, cpu)];
    for (shard, &core) in shard_cpus.iter().enumerate() {
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
pub(crate) fn steer_by_cpu(listener: &TcpListener, shard_cpus: &[usize]) -> io::Result<()> {
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "loongarch64"
    ))]
    {
        let mut code = program(shard_cpus);
        let prog = libc::sock_fprog {
            len: u16::try_from(code.len()).map_err(|_| io::ErrorKind::InvalidInput)?,
            filter: code.as_mut_ptr(),
        };
        // SAFETY: `prog` points at `code`, alive for the call; the kernel
        // copies the program.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_ATTACH_REUSEPORT_CBPF,
                std::ptr::addr_of!(prog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "loongarch64"
    )))]
    {
        let _ = (listener, shard_cpus);
        Err(io::ErrorKind::Unsupported.into())
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
    fn each_cpu_goes_to_the_shard_pinned_to_it() {
        // Shards 0..4 pinned to CPUs 2, 3, 6, 7 (a taskset subset).
        let code = program(&[2, 3, 6, 7]);
        assert_eq!(
            [2, 3, 6, 7].map(|cpu| run(&code, cpu)),
            [0, 1, 2, 3],
            "pinned CPUs"
        );
        // A CPU no shard runs on still lands on a shard.
        assert_eq!(run(&code, 5), 1);
    }
}
