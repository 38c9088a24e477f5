/**
 * Which QEMU accelerator a guest runs on: KVM when it can boot a stock kernel, else TCG (and how
 * TCG threads), with the environment overrides. Decided per run, from the machine as it is.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { InvalidArgumentError } from '../lib/errors.js'

/**
 * KVM when it can run a stock kernel, else TCG. `/dev/kvm` backed by PVM (`kvm_pvm`, no
 * `kvm_intel`/`kvm_amd`) only runs PVM guests: a Debian kernel never gets past its decompressor
 * there. `NVMF_FAULT_VM_ACCEL=kvm|tcg` overrides.
 */
export function chooseAccel(): { accel: 'kvm' | 'tcg'; why: string } {
  const env = process.env.NVMF_FAULT_VM_ACCEL
  if (env === 'kvm' || env === 'tcg') return { accel: env, why: 'NVMF_FAULT_VM_ACCEL' }
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
  } catch {
    return { accel: 'tcg', why: '/dev/kvm is not usable' }
  }
  if (existsSync('/sys/module/kvm_pvm') && !existsSync('/sys/module/kvm_intel') && !existsSync('/sys/module/kvm_amd')) {
    return { accel: 'tcg', why: '/dev/kvm is PVM (kvm_pvm), which cannot boot a stock kernel' }
  }
  return { accel: 'kvm', why: '/dev/kvm' }
}

/**
 * The TCG accelerator option: multi-threaded TCG (QEMU's default for x86 guests) unless
 * `NVMF_FAULT_VM_TCG_THREAD=single` asks for one thread running every vCPU in turn, where a vCPU
 * cannot run code another vCPU is patching at that moment (see test/interop/README.md, "Guest
 * kernels that die during boot").
 */
export function tcgAccel(env: NodeJS.ProcessEnv = process.env): string {
  const mode = env.NVMF_FAULT_VM_TCG_THREAD
  if (mode === undefined || mode === '') return 'tcg'
  if (mode !== 'single' && mode !== 'multi') throw new InvalidArgumentError('NVMF_FAULT_VM_TCG_THREAD', `must be 'single' or 'multi', got '${mode}'`)
  return `tcg,thread=${mode}`
}
