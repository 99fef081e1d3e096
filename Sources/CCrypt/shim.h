// crypt(3) from libxcrypt: yescrypt ($y$), SHA512-CRYPT ($6$), SHA256-CRYPT ($5$),
// bcrypt ($2b$/$2y$). crypt_r keeps the call thread-safe; crypt_gensalt_rn makes salts.
#include <crypt.h>
