//! The interactive mode: the seed client's menu (same prompts, same numbers), over one
//! persistent v2 connection, with three more entries. Reads choices from stdin, so it
//! can be scripted; end of input quits like `0`.

use std::io::{self, BufRead, Write};
use std::path::Path;

use crate::Failure;
use crate::client::Client;

const MENU: &str = "请选择操作: 0.退出  1.下载  2.上传  3.列表  4.信息  5.删除";

/// Run the menu until `0` or end of input.
pub fn run(mut c: Client, quiet: bool) -> Result<(), String> {
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut ask = |prompt: &str| -> Option<String> {
        print!("{prompt}");
        let _ = io::stdout().flush();
        lines
            .next()
            .and_then(Result::ok)
            .map(|l| l.trim().to_owned())
    };
    while let Some(choice) = ask(&format!("{MENU}\n")) {
        let outcome = match choice.as_str() {
            "0" => break,
            "1" => match ask("请输入要下载的文件名:") {
                Some(name) => crate::get(&mut c, &name, None, true, quiet)
                    .map(|p| format!("下载完成: {}", p.display())),
                None => break,
            },
            "2" => match ask("请输入要上传的文件名:") {
                Some(path) => crate::put(&mut c, Path::new(&path), None, false, quiet)
                    .map(|n| format!("数据上传成功! ({n})")),
                None => break,
            },
            "3" => crate::ls(&mut c, "").map(|()| String::new()),
            "4" => match ask("请输入文件名:") {
                Some(name) => c
                    .stat(&name)
                    .map(|s| format!("{name}: {} bytes, kind {}", s.size, s.kind))
                    .map_err(Failure::from),
                None => break,
            },
            "5" => match ask("请输入要删除的文件名:") {
                Some(name) => c
                    .delete(&name)
                    .map(|()| "已删除".to_owned())
                    .map_err(Failure::from),
                None => break,
            },
            "" => continue,
            other => Err(Failure::from(format!("unknown choice {other:?}"))),
        };
        match outcome {
            Ok(msg) if msg.is_empty() => {}
            Ok(msg) => println!("{msg}"),
            // A server-side refusal leaves the connection usable; anything else ends it.
            Err(e) => {
                println!("错误: {}", e.msg);
                if !e.usable {
                    return Err(e.msg);
                }
            }
        }
    }
    let _ = c.quit();
    println!("客户端关闭");
    Ok(())
}
