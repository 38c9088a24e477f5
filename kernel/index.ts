/**
 * Linux kernels as test peers: fetch a kernel (Debian package, .deb or build tree), build a guest
 * image for it, boot it under QEMU and run a job script in it. Used by the interop suite and by
 * `nvmf-fault reproduce`. See test/interop/README.md.
 */
export { interopAvailability, ensureVmImage, vmCacheRoot, BOOT_MODULES, ON_DEMAND_MODULES, type VmImage, type Availability } from './vm-image.js'
export {
  startGuest,
  runGuest,
  guestScript,
  chooseAccel,
  freePort,
  describeRun,
  consoleTail,
  GUEST_HOST_IP,
  type GuestOptions,
  type GuestResult,
  type GuestVm,
  type HostForward,
} from './vm.js'
export { KERNEL_GUEST_DIR } from './guest-dir.js'
export { GuestShare, type CallHandler } from './share.js'
export { encodeCpio, type CpioEntry } from './cpio.js'
export { execCapture, execText, which, type ExecOptions, type ExecResult } from './exec.js'
export { cacheRoot, withDirLock, type DirLockOptions } from './cache.js'
export { DebianApt, DEFAULT_SUITES, parseAptSources, systemDebianMirror, systemDebianSources, type AptSource, type DebianAptOptions, type PackageVersion } from './debian-apt.js'
export { parseKernelSpec, kernelSpecFromEnv, formatKernelSpec, parseKernelList, MATRIX_KERNELS, SUITE_ALIASES, type KernelSpec } from './kernel-spec.js'
export { chooseKernel, fetchKernelDebs, bzImageRelease, type KernelChoice, type TreeKernel, type DebRef } from './kernel-fetch.js'
export { guestNvmeCli, nvmeCliFromEnv, type NvmeCliFiles } from './guest-nvme-cli.js'
export { compareDebVersions } from './deb-version.js'
export { type VmImageOptions } from './vm-image.js'
