//! The GitHub App's private key file (`GITHUB_APP_PRIVATE_KEY_FILE`): the PEM GitHub
//! generates, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), read once and
//! held as a signing key. Like ssh with an identity file, ghr refuses a key others can read.
//! Every refusal is one line naming the key, the file and the fix; none shows the key.

use std::path::Path;

use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

/// The setting that names the file, for messages.
pub const KEY: &str = "GITHUB_APP_PRIVATE_KEY_FILE";

/// Why the key file's mode is refused: readable or writable by group or others.
pub fn exposed(mode: u32) -> bool {
    mode & 0o077 != 0
}

/// The RSA signing key in `pem`, or why there is none (the key itself is never in it).
pub fn parse(pem: &[u8]) -> Result<RsaKeyPair, String> {
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => "it holds no PEM private key".to_string(),
        _ => "it is not a readable PEM file".to_string(),
    })?;
    let parsed = match &der {
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(_) => return Err("it holds an EC key, not an RSA key".into()),
        _ => return Err("it holds a key of an unknown kind, not an RSA key".into()),
    };
    parsed.map_err(|e| format!("it holds no usable RSA key ({e})"))
}

/// Reads and checks the key file: exists, readable, not readable by others, an RSA key.
pub fn load(path: &Path) -> Result<RsaKeyPair, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{KEY}={shown}: the file does not exist; download the App's private key (the App's settings > Private keys > Generate a private key), save it there and chmod 600 it, or fix the path"
        ),
        _ => format!("{KEY}={shown} cannot be read ({e}); make it a file readable by the user running ghr, mode 600"),
    })?;
    if !meta.is_file() {
        return Err(format!(
            "{KEY}={shown} is not a file; set it to the path of the App's .pem private key"
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if exposed(mode) {
        return Err(format!(
            "{KEY}={shown} can be read by others (mode {mode:04o}); run chmod 600 {shown}"
        ));
    }
    let pem = std::fs::read(path).map_err(|e| {
        format!("{KEY}={shown} cannot be read ({e}); make it readable by the user running ghr, mode 600")
    })?;
    parse(&pem).map_err(|why| {
        format!(
            "{KEY}={shown} is not an RSA private key: {why}; use the .pem file GitHub generated for the App (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_others_can_reach_are_refused() {
        for (mode, refused) in [
            (0o600, false),
            (0o400, false),
            (0o700, false),
            (0o640, true),
            (0o644, true),
            (0o604, true),
            (0o660, true),
            (0o602, true),
        ] {
            assert_eq!(exposed(mode), refused, "{mode:o}");
        }
    }

    #[test]
    fn what_is_not_an_rsa_key_is_named() {
        for (pem, why) in [
            ("", "no PEM private key"),
            ("hello\n", "no PEM private key"),
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "no PEM private key",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "no usable RSA key",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "no usable RSA key",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
                "an EC key",
            ),
        ] {
            let err = parse(pem.as_bytes()).expect_err(pem);
            assert!(err.contains(why), "{pem:?}: {err}");
        }
    }
}
