/*
 * venueless.crypto: random values, digests, encodings and keys (libcrypto,
 * loaded with dlopen when the module is first required: linking it costs
 * about a millisecond at every start of the binary).
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "venueless.h"

#define CRYPTO_KEYS	"venueless.crypto.keys"
#define CRYPTO_CHUNK	3072	/* bytes of input per EVP_EncodeBlock call */
#define CRYPTO_DKMAX	1024	/* largest PBKDF2 key asked for */

/* The libcrypto functions we use, resolved with dlsym. */
#define OSSL_FUNCS \
	X(BIO_free) X(BIO_ctrl) X(BIO_new) X(BIO_new_mem_buf) X(BIO_s_mem) \
	X(ERR_clear_error) X(EVP_PKEY_eq) X(EVP_PKEY_get_group_name) \
	X(PEM_read_bio_PUBKEY) X(PEM_read_bio_PrivateKey) \
	X(ERR_error_string_n) X(ERR_get_error) X(EVP_Digest) \
	X(EVP_EncodeBlock) X(EVP_PKEY_Q_keygen) X(EVP_PKEY_free) \
	X(EVP_sha1) X(EVP_sha256) X(PEM_write_bio_PUBKEY) X(PEM_write_bio_PrivateKey) \
	X(RAND_bytes) X(HMAC) X(PKCS5_PBKDF2_HMAC)

static struct {
#define X(f) __typeof__(f) *f;
	OSSL_FUNCS
#undef X
} ossl;
static void	*ossl_handle;

static const char crypto_alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* A key being written out, boxed so that raising frees it (__gc). */
struct keybox {
	EVP_PKEY	*pkey;
	BIO		*priv;
	BIO		*pub;
};

/* Raise with OpenSSL's last error. */
static int
aux_sslerror(lua_State *L, const char *what)
{
	char	 msg[256];

	ossl.ERR_error_string_n(ossl.ERR_get_error(), msg, sizeof msg);
	ossl.ERR_clear_error();
	return luaL_error(L, "%s: %s", what, msg);
}

/* Fill p with n random bytes or raise. */
static void
aux_random(lua_State *L, unsigned char *p, size_t n)
{
	size_t	 k;

	for (; n > 0; p += k, n -= k) {
		k = n > INT_MAX ? INT_MAX : n;
		if (ossl.RAND_bytes(p, (int)k) != 1)
			aux_sslerror(L, "RAND_bytes");
	}
}

/* Check a non-negative length argument. */
static size_t
aux_checklen(lua_State *L, int arg)
{
	lua_Integer	 n = luaL_checkinteger(L, arg);

	luaL_argcheck(L, n >= 0, arg, "negative length");
	return (size_t)n;
}

/* crypto.random_bytes(n) -> n random bytes */
static int
lcrypto_random_bytes(lua_State *L)
{
	luaL_Buffer	 b;
	size_t		 n = aux_checklen(L, 1);

	aux_random(L, (unsigned char *)luaL_buffinitsize(L, &b, n), n);
	luaL_pushresultsize(&b, n);
	return 1;
}

/* crypto.random_string(n [, alphabet]) -> n characters drawn uniformly */
static int
lcrypto_random_string(lua_State *L)
{
	luaL_Buffer	 b;
	unsigned char	 rnd[256];
	const char	*abc;
	char		*out;
	size_t		 n, m, i, j = sizeof rnd;
	unsigned int	 limit;

	n = aux_checklen(L, 1);
	abc = luaL_optlstring(L, 2, crypto_alnum, &m);
	luaL_argcheck(L, m >= 1 && m <= 256, 2, "alphabet must have 1 to 256 "
	    "characters");
	limit = 256 - 256 % (unsigned int)m;	/* reject above: no bias */
	out = luaL_buffinitsize(L, &b, n);
	for (i = 0; i < n; ) {
		if (j == sizeof rnd) {
			aux_random(L, rnd, sizeof rnd);
			j = 0;
		}
		if (rnd[j] < limit)
			out[i++] = abc[rnd[j] % m];
		j++;
	}
	luaL_pushresultsize(&b, n);
	return 1;
}

/* crypto.hmac_sha256(key, msg) -> the raw 32-byte MAC */
static int
lcrypto_hmac_sha256(lua_State *L)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	const char	*key, *msg;
	size_t		 keylen, msglen;

	key = luaL_checklstring(L, 1, &keylen);
	msg = luaL_checklstring(L, 2, &msglen);
	luaL_argcheck(L, keylen <= INT_MAX, 1, "key too long");
	if (ossl.HMAC(ossl.EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	    msglen, mac, &maclen) == NULL)
		return aux_sslerror(L, "HMAC");
	lua_pushlstring(L, (const char *)mac, maclen);
	return 1;
}

/*
 * crypto.pbkdf2_sha256(password, salt, iterations [, len]) -> len raw
 * bytes (32, SHA-256's size, by default: what Django's hasher stores).
 */
static int
lcrypto_pbkdf2_sha256(lua_State *L)
{
	unsigned char	 out[CRYPTO_DKMAX];
	const char	*pass, *salt;
	size_t		 passlen, saltlen;
	lua_Integer	 iter, len;

	pass = luaL_checklstring(L, 1, &passlen);
	salt = luaL_checklstring(L, 2, &saltlen);
	iter = luaL_checkinteger(L, 3);
	len = luaL_optinteger(L, 4, 32);
	luaL_argcheck(L, passlen <= INT_MAX, 1, "password too long");
	luaL_argcheck(L, saltlen <= INT_MAX, 2, "salt too long");
	luaL_argcheck(L, iter >= 1 && iter <= INT_MAX, 3, "iterations must be "
	    "1 to 2147483647");
	luaL_argcheck(L, len >= 1 && len <= CRYPTO_DKMAX, 4, "length must be "
	    "1 to 1024");
	if (ossl.PKCS5_PBKDF2_HMAC(pass, (int)passlen,
	    (const unsigned char *)salt, (int)saltlen, (int)iter,
	    ossl.EVP_sha256(), (int)len, out) != 1)
		return aux_sslerror(L, "PKCS5_PBKDF2_HMAC");
	lua_pushlstring(L, (const char *)out, (size_t)len);
	return 1;
}

/* Push the digest of argument 1 with md. */
static int
aux_digest(lua_State *L, const EVP_MD *md)
{
	unsigned char	 out[EVP_MAX_MD_SIZE];
	unsigned int	 outlen = 0;
	const char	*s;
	size_t		 len;

	s = luaL_checklstring(L, 1, &len);
	if (ossl.EVP_Digest(s, len, out, &outlen, md, NULL) != 1)
		return aux_sslerror(L, "EVP_Digest");
	lua_pushlstring(L, (const char *)out, outlen);
	return 1;
}

/* crypto.sha256(s) -> the raw 32-byte digest */
static int
lcrypto_sha256(lua_State *L)
{
	return aux_digest(L, ossl.EVP_sha256());
}

/* crypto.sha1(s) -> the raw 20-byte digest (BigBlueButton's checksums) */
static int
lcrypto_sha1(lua_State *L)
{
	return aux_digest(L, ossl.EVP_sha1());
}

/* crypto.hex(s) -> lowercase hexadecimal */
static int
lcrypto_hex(lua_State *L)
{
	static const char	 digits[] = "0123456789abcdef";
	luaL_Buffer		 b;
	const unsigned char	*s;
	char			*out;
	size_t			 len, i;

	s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	luaL_argcheck(L, len <= SIZE_MAX / 2, 1, "string too long");
	out = luaL_buffinitsize(L, &b, 2 * len);
	for (i = 0; i < len; i++) {
		out[2 * i] = digits[s[i] >> 4];
		out[2 * i + 1] = digits[s[i] & 15];
	}
	luaL_pushresultsize(&b, 2 * len);
	return 1;
}

/* Push the base64 of the argument; url: url alphabet, no padding. */
static int
aux_base64(lua_State *L, int url)
{
	luaL_Buffer		 b;
	const unsigned char	*s;
	unsigned char		*out;
	size_t			 len, k, n, i;

	s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	luaL_buffinit(L, &b);
	for (; len > 0; s += k, len -= k) {
		k = len > CRYPTO_CHUNK ? CRYPTO_CHUNK : len;
		out = (unsigned char *)luaL_prepbuffsize(&b, CRYPTO_CHUNK / 3 *
		    4 + 1);
		n = (size_t)ossl.EVP_EncodeBlock(out, s, (int)k);
		for (i = 0; url && i < n; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
			else if (out[i] == '=' && n > i)
				n = i;		/* the padding is last */
		}
		luaL_addsize(&b, n);
	}
	luaL_pushresult(&b);
	return 1;
}

/* crypto.base64(s) -> standard base64 with padding */
static int
lcrypto_base64(lua_State *L)
{
	return aux_base64(L, 0);
}

/* crypto.base64url(s) -> url-safe base64 without padding */
static int
lcrypto_base64url(lua_State *L)
{
	return aux_base64(L, 1);
}

/* Value of a base64url character, or -1. */
static int
aux_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* crypto.base64url_decode(s) -> bytes, or nil, message */
static int
lcrypto_base64url_decode(lua_State *L)
{
	luaL_Buffer		 b;
	const unsigned char	*s;
	size_t			 len, i;
	uint32_t		 acc = 0;
	int			 v, bits = 0;

	s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	if (len % 4 == 0 && len > 0 && s[len - 1] == '=')
		len -= s[len - 2] == '=' ? 2 : 1;	/* optional padding */
	luaL_buffinit(L, &b);
	for (i = 0; i < len; i++) {
		if ((v = aux_b64val(s[i])) < 0) {
			lua_pushnil(L);
			lua_pushfstring(L, "invalid base64url character at "
			    "byte %d", (int)i + 1);
			return 2;
		}
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			luaL_addchar(&b, (char)(acc >> bits & 0xff));
		}
	}
	if (len % 4 == 1 || (acc & ((1u << bits) - 1)) != 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "invalid base64url length or trailing bits");
		return 2;
	}
	luaL_pushresult(&b);
	return 1;
}

/* crypto.uuid4() -> a random UUID, lowercase with dashes */
static int
lcrypto_uuid4(lua_State *L)
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 u[16];
	char			 out[37], *p = out;
	int			 i;

	aux_random(L, u, sizeof u);
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* variant 10 */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = digits[u[i] >> 4];
		*p++ = digits[u[i] & 15];
	}
	lua_pushlstring(L, out, 36);
	return 1;
}

/* Free a key and its PEM buffers (__gc). */
static int
keys_gc(lua_State *L)
{
	struct keybox	*k = luaL_checkudata(L, 1, CRYPTO_KEYS);

	ossl.EVP_PKEY_free(k->pkey);
	ossl.BIO_free(k->priv);
	ossl.BIO_free(k->pub);
	k->pkey = NULL;
	k->priv = k->pub = NULL;
	return 0;
}

/* Push the contents of a memory BIO. */
static void
aux_pushbio(lua_State *L, BIO *bio)
{
	char	*p;
	long	 n;

	n = ossl.BIO_ctrl(bio, BIO_CTRL_INFO, 0, (char *)&p);
	lua_pushlstring(L, p, n > 0 ? (size_t)n : 0);
}

/* crypto.ec_p256() -> private key PEM (PKCS#8), public key PEM (SPKI) */
static int
lcrypto_ec_p256(lua_State *L)
{
	struct keybox	*k;

	lua_settop(L, 0);
	k = lua_newuserdatauv(L, sizeof *k, 0);
	k->pkey = NULL;
	k->priv = k->pub = NULL;
	luaL_setmetatable(L, CRYPTO_KEYS);
	if ((k->pkey = ossl.EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return aux_sslerror(L, "EC key generation");
	if ((k->priv = ossl.BIO_new(ossl.BIO_s_mem())) == NULL ||
	    (k->pub = ossl.BIO_new(ossl.BIO_s_mem())) == NULL)
		return aux_sslerror(L, "BIO_new");
	if (ossl.PEM_write_bio_PrivateKey(k->priv, k->pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || ossl.PEM_write_bio_PUBKEY(k->pub, k->pkey) != 1)
		return aux_sslerror(L, "PEM_write_bio");
	aux_pushbio(L, k->priv);
	aux_pushbio(L, k->pub);
	lua_pushcfunction(L, keys_gc);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 0);		/* free now, not at the next cycle */
	return 2;
}

/* A PEM key read from s[0..len), or NULL; pub picks the SPKI reader. */
static EVP_PKEY *
aux_readpem(const char *s, size_t len, int pub)
{
	EVP_PKEY	*k;
	BIO		*bio;

	if (len > INT_MAX || (bio = ossl.BIO_new_mem_buf(s, (int)len)) == NULL)
		return NULL;
	k = pub ? ossl.PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) :
	    ossl.PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	ossl.BIO_free(bio);
	return k;
}

/* Is k an EC key on P-256? */
static int
aux_isp256(EVP_PKEY *k)
{
	char	 name[64];
	size_t	 len;

	if (ossl.EVP_PKEY_get_group_name(k, name, sizeof name, &len) != 1)
		return 0;
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

/*
 * crypto.check_ec_p256(private_pem, public_pem) -> true, or nil and what
 * is wrong: a key that does not parse, is not P-256, or a public key
 * that is not the private key's. Nothing here raises while a key is held.
 */
static int
lcrypto_check_ec_p256(lua_State *L)
{
	size_t		 plen, qlen;
	const char	*p = luaL_checklstring(L, 1, &plen);
	const char	*q = luaL_checklstring(L, 2, &qlen);
	const char	*why = NULL;
	EVP_PKEY	*priv, *pub;

	priv = aux_readpem(p, plen, 0);
	pub = aux_readpem(q, qlen, 1);
	if (priv == NULL)
		why = "the private key is not a PEM private key";
	else if (pub == NULL)
		why = "the public key is not a PEM public key";
	else if (!aux_isp256(priv))
		why = "the private key is not an EC P-256 key";
	else if (ossl.EVP_PKEY_eq(priv, pub) != 1)
		why = "the public key is not the private key's";
	ossl.EVP_PKEY_free(priv);
	ossl.EVP_PKEY_free(pub);
	ossl.ERR_clear_error();
	if (why == NULL) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, why);
	return 2;
}

static const luaL_Reg lcrypto_funcs[] = {
	{ "random_bytes", lcrypto_random_bytes },
	{ "random_string", lcrypto_random_string },
	{ "hmac_sha256", lcrypto_hmac_sha256 },
	{ "sha256", lcrypto_sha256 },
	{ "sha1", lcrypto_sha1 },
	{ "pbkdf2_sha256", lcrypto_pbkdf2_sha256 },
	{ "hex", lcrypto_hex },
	{ "base64", lcrypto_base64 },
	{ "base64url", lcrypto_base64url },
	{ "base64url_decode", lcrypto_base64url_decode },
	{ "uuid4", lcrypto_uuid4 },
	{ "ec_p256", lcrypto_ec_p256 },
	{ "check_ec_p256", lcrypto_check_ec_p256 },
	{ NULL, NULL }
};

/* Load libcrypto once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		OSSL_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &ossl.f,
		OSSL_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBCRYPTO_SONAME, names, slots,
	    sizeof names / sizeof names[0], &ossl_handle, cause);
}

int
luaopen_venueless_crypto(lua_State *L)
{
	const char	*cause;

	if (aux_load(&cause) == -1)
		return luaL_error(L, "cannot load libcrypto: %s", cause);
	if (luaL_newmetatable(L, CRYPTO_KEYS)) {
		lua_pushcfunction(L, keys_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	luaL_newlib(L, lcrypto_funcs);
	return 1;
}
