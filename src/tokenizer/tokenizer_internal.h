/* Internal types of the tokenizer.json engine. One component family per .c file:
 *   tk_util.c          buffers, hash maps, UTF-8 + Unicode predicates, regex wrapper, byte-level
 * map added_tokens.c     added-token matching (before and after normalization) normalizers.c
 * BertNormalizer, NF*, Lowercase, Strip*, Replace, Prepend, ByteLevel, Sequence precompiled.c
 * SentencePiece precompiled charsmap (double-array trie) pretokenizers.c    Bert, Whitespace*,
 * Punctuation, Digits, Metaspace, ByteLevel, Split, Sequence models_wordpiece.c / models_bpe.c /
 * models_unigram.c postprocess.c      Template/Bert/Roberta/ByteLevel/Sequence + truncation
 *   decoders.c         WordPiece, ByteLevel, Metaspace, BPEDecoder, ByteFallback, Fuse, Strip,
 * Replace tokenizer.c        load (tokenizer.json + tokenizer_config.json), encode, decode, public
 * API
 *
 * Ownership: everything reachable from tp_tokenizer is immutable after load and shared by all
 * threads; per-call scratch lives in a tk_ws owned by one encode/decode call. */
#ifndef TP_TOKENIZER_INTERNAL_H
#define TP_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tidepool.h"

/* ---- growable byte buffer ---------------------------------------------------------------- */
typedef struct tk_buf {
    char *p;
    size_t len, cap;
} tk_buf;

int tk_buf_reserve(tk_buf *b, size_t extra); /* 0 ok, -1 nomem */
int tk_buf_add(tk_buf *b, const char *s, size_t n);
int tk_buf_addcp(tk_buf *b, uint32_t cp);
void tk_buf_free(tk_buf *b);

/* ---- int32 vector ------------------------------------------------------------------------- */
typedef struct tk_ids {
    int32_t *v;
    size_t n, cap;
} tk_ids;
int tk_ids_push(tk_ids *a, int32_t x);
void tk_ids_free(tk_ids *a);

/* ---- string -> int32 map (owns copies of its keys) --------------------------------------- */
typedef struct tk_smap_ent {
    uint32_t hash;
    uint32_t klen;
    uint32_t koff; /* into keys */
    int32_t val;
} tk_smap_ent;

typedef struct tk_smap {
    tk_smap_ent *ents; /* capacity mask+1; val == INT32_MIN: empty */
    size_t mask, n;
    tk_buf keys;
} tk_smap;

uint32_t tk_hash(const char *s, size_t n);
int tk_smap_init(tk_smap *m, size_t expected);
/* Inserts or overwrites. 0 ok, -1 nomem. */
int tk_smap_put(tk_smap *m, const char *k, size_t n, int32_t val);
int32_t tk_smap_get(const tk_smap *m, const char *k, size_t n); /* -1 when absent */
void tk_smap_free(tk_smap *m);

/* ---- uint64 -> (int32,int32) map (BPE merges, trie edges) -------------------------------- */
typedef struct tk_pmap_ent {
    uint64_t key; /* UINT64_MAX: empty */
    int32_t a, b;
} tk_pmap_ent;
typedef struct tk_pmap {
    tk_pmap_ent *ents;
    size_t mask, n;
} tk_pmap;
int tk_pmap_init(tk_pmap *m, size_t expected);
int tk_pmap_put(tk_pmap *m, uint64_t key, int32_t a, int32_t b); /* overwrites */
const tk_pmap_ent *tk_pmap_get(const tk_pmap *m, uint64_t key);
void tk_pmap_free(tk_pmap *m);

/* ---- byte trie (edges in a tk_pmap: key = node<<8 | byte) -------------------------------- */
typedef struct tk_trie {
    tk_pmap edges; /* a = child node */
    int32_t *val;  /* per node: value or -1 */
    size_t n_nodes, cap_nodes;
    uint8_t first[32]; /* bitmap of first bytes */
} tk_trie;
int tk_trie_init(tk_trie *t);
int tk_trie_add(tk_trie *t, const char *s, size_t n, int32_t val);
/* Longest key that is a prefix of s[0..n): returns its length (0: none), *val its value. */
size_t tk_trie_longest(const tk_trie *t, const char *s, size_t n, int32_t *val);
void tk_trie_free(tk_trie *t);

/* ---- UTF-8 and Unicode -------------------------------------------------------------------- */
/* Decodes one code point from valid UTF-8; *len receives its byte length. */
static inline uint32_t tk_u8dec(const char *str, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    }
    *len = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}
static inline size_t tk_u8len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
size_t tk_u8enc(uint32_t cp, char *out); /* out needs 4 bytes */
size_t tk_u8count(const char *s, size_t n);

int tk_is_whitespace(uint32_t cp); /* Rust char::is_whitespace (White_Space) */
int tk_is_punct(uint32_t cp);      /* Unicode P* */
int tk_is_bert_punct(uint32_t cp); /* ASCII punctuation or P* */
int tk_is_numeric(uint32_t cp);    /* Nd | Nl | No */
int tk_is_alnum(uint32_t cp);      /* Rust char::is_alphanumeric (approximation: L* | N*) */
int tk_is_control(uint32_t cp);    /* BERT: C* except \t \n \r */
int tk_is_mark_nonspacing(uint32_t cp);
int tk_is_mark(uint32_t cp);
int tk_is_cjk(uint32_t cp);
int tk_is_word_char(uint32_t cp); /* regex \w (Unicode) */
/* Rust char::to_lowercase, appended as UTF-8. */
int tk_lower_cp(tk_buf *out, uint32_t cp);

/* ---- regex -------------------------------------------------------------------------------- */
typedef struct tk_regex {
    pcre2_code *code;
} tk_regex;
tp_status tk_regex_compile(tk_regex *r, const char *pat, size_t n, const char *what, tp_error *err);
/* Escapes a literal string into a compiled regex. */
tp_status tk_regex_literal(tk_regex *r, const char *lit, size_t n, tp_error *err);
void tk_regex_free(tk_regex *r);

/* ---- per-call scratch --------------------------------------------------------------------- */
typedef struct tk_piece {
    uint32_t off, len;
    int32_t id;    /* >= 0: already a token (added token); -1: text to process */
    uint8_t first; /* starts at original offset 0 (Metaspace prepend_scheme "first") */
} tk_piece;

typedef struct tk_pieces {
    tk_piece *v;
    size_t n, cap;
    tk_buf text;
} tk_pieces;
int tk_pieces_push(tk_pieces *p, const char *s, size_t n, int32_t id, int first);
void tk_pieces_reset(tk_pieces *p);
void tk_pieces_free(tk_pieces *p);

typedef struct tk_ws {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    tk_buf nb[3];     /* normalizer ping-pong + temp */
    tk_pieces pp[3];  /* pre-tokenizer ping-pong */
    tk_buf tmp, tmp2; /* model scratch */
    tk_ids itmp;      /* model scratch */
    void *bpe_syms;   /* models_bpe.c scratch */
    size_t bpe_cap;
    void *uni_lat; /* models_unigram.c scratch */
    size_t uni_cap;
    tk_ids seq[2];   /* encode: ids of the two sequences */
    tk_buf norm_out; /* encode: normalized segment */
} tk_ws;
int tk_ws_init(tk_ws *w);
void tk_ws_free(tk_ws *w);
/* Iterates regex matches: returns 1 and sets [*ms,*me) for the next match at or after `from`. */
int tk_regex_next(const tk_regex *r, tk_ws *w, const char *s, size_t n, size_t from, size_t *ms,
                  size_t *me);

/* ---- byte-level alphabet (GPT-2) ---------------------------------------------------------- */
extern char tk_bytelevel_str_[256][3]; /* UTF-8 of the char for each byte (after init) */
extern uint8_t tk_bytelevel_len_[256];
/* Char -> byte, -1 when the char is not in the alphabet. */
int tk_bytelevel_byte(uint32_t cp);
void tk_bytelevel_init(void);

/* ---- components --------------------------------------------------------------------------- */
typedef struct tk_norm tk_norm;
typedef struct tk_pretok tk_pretok;
typedef struct tk_model tk_model;
typedef struct tk_post tk_post;
typedef struct tk_dec tk_dec;

tp_status tk_norm_load(json_t *j, tk_norm **out, tp_error *err);
void tk_norm_free(tk_norm *n);
/* Normalizes s[0..n) into out (cleared first). `lead` (may be NULL): cleared when the output's
 * first char no longer aligns with the input's first char (see first_survives). */
int tk_norm_run(const tk_norm *nm, const char *s, size_t n, tk_buf *out, tk_ws *w, int *lead);
/* BertNormalizer flags overridable from tokenizer_config.json: lowercase/chinese -1 leave;
 * strip_accents -2 leave, -1 null (follows lowercase), 0/1. */
void tk_norm_bert_override(tk_norm *nm, int lowercase, int strip_accents, int chinese);

/* Precompiled charsmap. */
typedef struct tk_precompiled tk_precompiled;
tp_status tk_precompiled_load(const char *b64, size_t n, tk_precompiled **out, tp_error *err);
void tk_precompiled_free(tk_precompiled *p);
int tk_precompiled_run(const tk_precompiled *p, const char *s, size_t n, tk_buf *out);
/* 1 when the charsmap maps the first grapheme (or its first char) to nothing. */
int tk_precompiled_drops_first(const tk_precompiled *p, const char *s, size_t n);

tp_status tk_pretok_load(json_t *j, tk_pretok **out, tp_error *err);
void tk_pretok_free(tk_pretok *p);
/* Splits the pieces of `in` (those with id < 0) into `out`; pieces with id >= 0 pass through.
 * `in` is consumed (used as scratch); in, out and w->pp[2] must be distinct. */
int tk_pretok_run(const tk_pretok *p, tk_pieces *in, tk_pieces *out, tk_ws *w);
/* Overrides ByteLevel add_prefix_space (tokenizer_config.json); -1 leaves. */
void tk_pretok_bytelevel_override(tk_pretok *p, int add_prefix_space);

typedef enum tk_model_kind { TK_WORDPIECE, TK_BPE, TK_UNIGRAM, TK_WORDLEVEL } tk_model_kind;

typedef struct tk_vocab {
    tk_smap map;   /* token -> id */
    char **tokens; /* id -> token (NUL-terminated, may be NULL for holes) */
    size_t n;      /* ids in [0, n) */
} tk_vocab;

struct tk_model {
    tk_model_kind kind;
    tk_vocab vocab;
    int32_t unk_id; /* -1: none */
    void *impl;
};
tp_status tk_model_load(json_t *j, tk_model **out, tp_error *err);
void tk_model_free(tk_model *m);
/* Appends the ids of one pre-tokenized word. */
int tk_model_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w);

tp_status tk_wordpiece_load(json_t *j, tk_model *m, tp_error *err);
int tk_wordpiece_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w);
void tk_wordpiece_free(tk_model *m);
tp_status tk_bpe_load(json_t *j, tk_model *m, tp_error *err);
int tk_bpe_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w);
void tk_bpe_free(tk_model *m);
tp_status tk_unigram_load(json_t *j, tk_model *m, tp_error *err);
int tk_unigram_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w);
void tk_unigram_free(tk_model *m);
/* Fills v->tokens from v->map (ids must be < n). */
int tk_vocab_index(tk_vocab *v);
void tk_vocab_free(tk_vocab *v);

/* Post-processor. Template pieces: seq 0/1 = $A/$B, seq -1 = special ids. */
typedef struct tk_tpl_item {
    int seq;
    int32_t type_id;
    int32_t *ids; /* special ids (seq == -1) */
    size_t n_ids;
} tk_tpl_item;

typedef struct tk_template {
    tk_tpl_item *items;
    size_t n;
} tk_template;

struct tk_post {
    int kind; /* 0: none/bytelevel (default process), 1: template */
    tk_template single, pair;
};
/* `lookup` resolves token strings for Bert/Roberta processors and the special-token map. */
tp_status tk_post_load(json_t *j, tk_post **out, tp_error *err);
void tk_post_free(tk_post *p);
size_t tk_post_added(const tk_post *p, int is_pair);
/* Builds a template post-processor from a bos/eos setting (tokenizer_config add_bos/add_eos). */
tp_status tk_post_llama(tk_post **out, int32_t bos, int32_t eos, int add_bos, int add_eos,
                        tp_error *err);

tp_status tk_dec_load(json_t *j, tk_dec **out, tp_error *err);
void tk_dec_free(tk_dec *d);
/* Decodes a list of token strings (concatenated in toks, lengths in lens) into out. */
int tk_dec_run(const tk_dec *d, tk_pieces *toks, tk_buf *out, tk_pieces *tmp);

/* Added tokens. */
typedef struct tk_added {
    char *content;
    size_t len;
    int32_t id;
    uint8_t special, single_word, lstrip, rstrip, normalized;
} tk_added;

typedef struct tk_added_vocab {
    tk_added *v;
    size_t n;
    tk_trie raw;  /* non-normalized tokens, value = index into v */
    tk_trie norm; /* normalized tokens (content normalized at load) */
    int has_raw, has_norm;
    tk_smap by_content; /* content -> index into v */
    int32_t max_id;
} tk_added_vocab;
tp_status tk_added_load(json_t *arr, const tk_norm *nm, const tk_model *model, tk_added_vocab *av,
                        tp_error *err);
void tk_added_free(tk_added_vocab *av);
/* Splits s[0..n) into pieces of `out` using trie `tr` (raw or norm): token pieces get id >= 0. */
int tk_added_split(const tk_added_vocab *av, const tk_trie *tr, const char *s, size_t n, int first,
                   tk_pieces *out);
const tk_added *tk_added_by_id(const tk_added_vocab *av, int32_t id);

#endif
