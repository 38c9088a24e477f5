/** The fault seams moved to target/seams/ (one place); this path keeps old imports working. */
export * from '../seams/hooks.js'
