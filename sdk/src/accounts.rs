//! The official account being served.

use crate::__private::plaza::platform::accounts as wit;
use crate::Account;

/// The account this call serves (also in [`CallContext::account`](crate::CallContext)).
pub fn current() -> Account {
    wit::current()
}
