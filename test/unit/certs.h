/* A self-signed certificate for the TLS tests, made at test time in a
 * temporary directory so that no key material is committed. */
#ifndef VOLE_TEST_CERTS_H
#define VOLE_TEST_CERTS_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

struct test_cert {
    char dir[64];
    char cert[96];   /* PEM; also the CA file that trusts it */
    char key[96];
};

static inline void test_cert_write_pem(const char *path, const unsigned char *pem)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs((const char *)pem, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* subjectAltName = DNS:name, in DER: mbedTLS 2.28 has no writer for it and a
 * name in the SAN is what modern verifiers (Go's) look at. */
static inline void test_cert_add_san(mbedtls_x509write_cert *crt, const char *name)
{
    unsigned char san[80];
    size_t n = strlen(name);
    assert_true(n + 4 <= sizeof san);
    san[0] = 0x30, san[1] = (unsigned char)(n + 2);   /* SEQUENCE of GeneralName */
    san[2] = 0x82, san[3] = (unsigned char)n;         /* [2] dNSName */
    memcpy(san + 4, name, n);
    assert_int_equal(mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                         MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san, n + 4),
                     0);
}

/* Signs key's certificate with key itself: CN=name, its own CA. */
static inline void test_cert_sign(mbedtls_pk_context *key, mbedtls_ctr_drbg_context *drbg, const char *name,
                                  const char *path)
{
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    unsigned char pem[4096];
    char subject[96];

    snprintf(subject, sizeof subject, "CN=%s", name);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_mpi_lset(&serial, 1), 0);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, key);
    mbedtls_x509write_crt_set_issuer_key(&crt, key);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&crt, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&crt, subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&crt, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0), 0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_key_identifier(&crt), 0);
    test_cert_add_san(&crt, name);
    assert_int_equal(mbedtls_x509write_crt_pem(&crt, pem, sizeof pem, mbedtls_ctr_drbg_random, drbg), 0);
    test_cert_write_pem(path, pem);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
}

/* A fresh temporary directory holding cert.pem, a self-signed P-256
 * certificate for `name` (CN and SAN; valid 2020-2099), and key.pem. */
static inline void test_cert_make(struct test_cert *c, const char *name)
{
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    unsigned char pem[2048];

    snprintf(c->dir, sizeof c->dir, "/tmp/vole-cert-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->cert, sizeof c->cert, "%s/cert.pem", c->dir);
    snprintf(c->key, sizeof c->key, "%s/key.pem", c->dir);
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, (const unsigned char *)"t", 1), 0);
    assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg),
                     0);
    assert_int_equal(mbedtls_pk_write_key_pem(&key, pem, sizeof pem), 0);
    test_cert_write_pem(c->key, pem);
    test_cert_sign(&key, &drbg, name, c->cert);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

static inline void test_cert_remove(const struct test_cert *c)
{
    unlink(c->cert);
    unlink(c->key);
    rmdir(c->dir);
}

#endif
